// The interface of the quantized products (kernels/matmul_quant.wgsl, matmul_quant_f16.wgsl and
// matmul_quant_tensor.wgsl): their uniform, bindings and the overrides they share. The wrapper
// (src/engine/ops/matmul_quant.ts) appends this file to each kernel's source, with kernels/ggml_blocks.wgsl.
//   forward:  y [rows, out] (+)= x [rows, in] W^T
//   backward: dx [rows, in] (+)= dy [rows, out] W
// W may be rows w_row0 .. w_row0 + out_features of a larger matrix (a vocabulary chunk of the LM head), and C
// may be a column window of a wider matrix: element (row, col) at c_offset + row * ldc + col.

struct Params {
  rows: u32,
  out_features: u32,
  in_features: u32,
  row_bytes: u32, // bytes of one row of W
  beta: f32,
  w_row0: u32,    // first row of W read
  ldc: u32,       // row stride of C
  c_offset: u32,  // element offset of C
}

override TYPE: u32 = 0u;         // the GGML type id of W
override BACKWARD: bool = false; // which product

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;       // x [rows, in] or dy [rows, out]
@group(0) @binding(2) var<storage, read> w: array<u32>;       // the bytes of W, row after row
@group(0) @binding(3) var<storage, read_write> c: array<f32>; // y [rows, out] or dx [rows, in]

// K, the length of the sums (forward: in; backward: out), and N, the columns of C (forward: out; backward: in).
fn summed_length() -> u32 { return select(p.in_features, p.out_features, BACKWARD); }
fn output_columns() -> u32 { return select(p.out_features, p.in_features, BACKWARD); }
