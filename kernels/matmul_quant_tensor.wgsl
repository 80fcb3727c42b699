enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// The products of kernels/matmul_quant.wgsl on tensor cores, through subgroup matrices (f16 x f16 -> f32):
//   forward:  y [rows, out] (+)= x [rows, in] W^T
//   backward: dx [rows, in] (+)= dy [rows, out] W
// with their interface (kernels/matmul_quant_interface.wgsl). Only for adapters with shader-f16, subgroups and
// chromium-experimental-subgroup-matrix, and only after its self-test passed there (matmul_quant_half.ts).
// The wrapper appends the subgroup matrix shape (SM x SK times SK x SN, an f16 -> f32 config the adapter
// offers) and SG, the adapter's one subgroup size, then the interface and kernels/ggml_blocks.wgsl.
//
// A workgroup of 4 subgroups computes a 64 x 64 tile of C in K-steps of 32; subgroup s owns the 32 x 32
// quarter (s / 2, s % 2) as (32 / SM) x (32 / SN) result matrices. Each step stages A and the dequantized W
// in workgroup memory as f16 (DEVICE.md: loads straight from storage leave the tensor cores idle).
// f16 holds 11 significant bits but not f32's range: gradients of 1e-6 would lose most of theirs. So every
// row of A is first scaled by a power of two that brings its largest magnitude into [2^13, 2^14), exactly,
// and C's row is scaled back after the product: each product then carries f16's relative error, whatever
// the row's magnitude, as bf16 would with three fewer bits.

const BM: u32 = 64u; // rows of C per workgroup
const BN: u32 = 64u; // columns of C per workgroup
const BK: u32 = 32u; // K per step
const WG: u32 = 4u * SG;
const TI: u32 = 32u / SM; // result matrices per subgroup, down
const TJ: u32 = 32u / SN; // and across

var<workgroup> a_tile: array<f16, 2048>;       // [BM][BK]
var<workgroup> w_tile: array<f16, 2048>;       // [BK][BN]
var<workgroup> c_tile: array<f32, 4u * SM * SN>; // one result matrix per subgroup, on its way out
var<workgroup> row_scale: array<f32, 64>;       // [BM]: the power of two row m of A is scaled by

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let K = summed_length();
  let N = output_columns();
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;

  // Each subgroup finds the largest |a| of rows sg, sg + 4, ...
  for (var m = sg; m < BM; m += 4u) {
    var largest = 0.0;
    if (row0 + m < p.rows) {
      for (var k = lane; k < K; k += SG) { largest = max(largest, abs(a[(row0 + m) * K + k])); }
    }
    largest = subgroupMax(largest);
    if (lane == 0u) {
      // largest < 2^e; scaled, it is below 2^14 (f16's largest finite value is 65504).
      let e = select(14, frexp(largest).exp, largest > 0.0);
      row_scale[m] = ldexp(1.0, clamp(14 - e, -126, 126));
    }
  }
  workgroupBarrier();

  let m0 = (sg / 2u) * 32u;
  let n0 = (sg % 2u) * 32u;
  var acc: array<subgroup_matrix_result<f32, SN, SM>, TI * TJ>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var e = li; e < BM * BK; e += WG) {
      let m = e / BK;
      let k = e % BK;
      var value = 0.0;
      if (row0 + m < p.rows && k0 + k < K) { value = a[(row0 + m) * K + k0 + k] * row_scale[m]; }
      a_tile[e] = f16(value);
    }
    // 256 runs of 8 values of W. Forward: W row col0 + n is C's column n, and its values k0 + 8j .. + 7 are
    // steps of k. Backward: W row k0 + k, values col0 + 8j .. + 7 are columns of C.
    for (var e = li; e < 256u; e += WG) {
      var v: array<f32, 8>;
      if (BACKWARD) {
        let k = e / 8u;
        let n = 8u * (e % 8u);
        if (k0 + k < p.out_features && col0 + n < p.in_features) { v = dequant8((p.w_row0 + k0 + k) * p.row_bytes, col0 + n, p.in_features); }
        for (var i = 0u; i < 8u; i++) { w_tile[k * BN + n + i] = f16(v[i]); }
      } else {
        let n = e / 4u;
        let k = 8u * (e % 4u);
        if (col0 + n < p.out_features && k0 + k < p.in_features) { v = dequant8((p.w_row0 + col0 + n) * p.row_bytes, k0 + k, p.in_features); }
        for (var i = 0u; i < 8u; i++) { w_tile[(k + i) * BN + n] = f16(v[i]); }
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk += SK) {
      var left: array<subgroup_matrix_left<f16, SK, SM>, TI>;
      for (var i = 0u; i < TI; i++) {
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, SK, SM>, row_major>(&a_tile, (m0 + i * SM) * BK + kk, BK);
      }
      for (var j = 0u; j < TJ; j++) {
        let right = subgroupMatrixLoad<subgroup_matrix_right<f16, SN, SK>, row_major>(&w_tile, kk * BN + n0 + j * SN, BN);
        for (var i = 0u; i < TI; i++) {
          acc[i * TJ + j] = subgroupMatrixMultiplyAccumulate(left[i], right, acc[i * TJ + j]);
        }
      }
    }
    workgroupBarrier();
  }

  // Out through workgroup memory, one result matrix at a time: C may end mid-matrix, and rows are scaled back.
  let mine = sg * SM * SN;
  for (var i = 0u; i < TI; i++) {
    for (var j = 0u; j < TJ; j++) {
      subgroupMatrixStore<row_major>(&c_tile, mine, acc[i * TJ + j], SN);
      workgroupBarrier();
      for (var e = lane; e < SM * SN; e += SG) {
        let m = m0 + i * SM + e / SN;
        let col = col0 + n0 + j * SN + e % SN;
        if (row0 + m < p.rows && col < N) {
          let idx = p.c_offset + (row0 + m) * p.ldc + col;
          var value = c_tile[mine + e] / row_scale[m];
          if (p.beta != 0.0) { value += p.beta * c[idx]; }
          c[idx] = value;
        }
      }
      workgroupBarrier();
    }
  }
}
