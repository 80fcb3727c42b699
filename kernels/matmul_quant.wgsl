// Products with a frozen weight W [out, in] kept as raw GGML blocks (src/model/gguf/quants.ts has the
// layouts), dequantized on the fly:
//   forward:  y [rows, out] (+)= x [rows, in] W^T
//   backward: dx [rows, in] (+)= dy [rows, out] W
// A workgroup of 16x16 threads computes a (16 * ROW_GROUPS) x 64 tile of the output in K-steps of 32: per
// step every thread dequantizes 8 consecutive values of one row of W into workgroup memory, where the whole
// row tile reuses them. ROW_GROUPS is 4 (64 rows, 4x4 outputs per thread) or 1 for few rows (<= 16).
// Pipelines are made per TYPE (the GGML type id), ROW_GROUPS and BACKWARD (which product).

struct Params {
  rows: u32,
  out_features: u32,
  in_features: u32,
  row_bytes: u32, // bytes of one row of W
  beta: f32,
}

override TYPE: u32 = 0u;
override ROW_GROUPS: u32 = 4u;
override BACKWARD: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;       // x [rows, in] or dy [rows, out]
@group(0) @binding(2) var<storage, read> w: array<u32>;       // the bytes of W, row after row
@group(0) @binding(3) var<storage, read_write> c: array<f32>; // y [rows, out] or dx [rows, in]

const TN: u32 = 64u; // output columns per workgroup
const TK: u32 = 32u; // K per step
var<workgroup> a_tile: array<f32, 2048>; // [16 * ROW_GROUPS][TK]
var<workgroup> w_tile: array<f32, 2048>; // [TK][TN]

// ---- reading W's bytes

fn byte_at(offset: u32) -> u32 {
  return (w[offset >> 2u] >> ((offset & 3u) * 8u)) & 0xFFu;
}

// A half-precision field (GGML fields of 2 bytes sit at even offsets).
fn f16_at(offset: u32) -> f32 {
  return unpack2x16float((w[offset >> 2u] >> ((offset & 2u) * 8u)) & 0xFFFFu).x;
}

// The 8 bytes at any offset, as two little-endian words.
fn bytes8(offset: u32) -> vec2<u32> {
  let i = offset >> 2u;
  let shift = (offset & 3u) * 8u;
  let w0 = w[i];
  let w1 = w[i + 1u];
  if (shift == 0u) { return vec2<u32>(w0, w1); }
  let w2 = w[i + 2u];
  return vec2<u32>((w0 >> shift) | (w1 << (32u - shift)), (w1 >> shift) | (w2 << (32u - shift)));
}

fn byte_of(bytes: vec2<u32>, i: u32) -> u32 {
  return (bytes[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu;
}

fn int8(byte: u32) -> f32 {
  return f32(bitcast<i32>(byte << 24u) >> 24u);
}

// The 6-bit (scale, min) of sub-block j of a Q4_K/Q5_K block whose 12 scale bytes start at `offset`.
fn k_scale_min(offset: u32, j: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(byte_at(offset + j) & 63u), f32(byte_at(offset + j + 4u) & 63u));
  }
  let packed = byte_at(offset + j + 4u);
  let scale = (packed & 15u) | ((byte_at(offset + j - 4u) >> 6u) << 4u);
  let min = (packed >> 4u) | ((byte_at(offset + j) >> 6u) << 4u);
  return vec2<f32>(f32(scale), f32(min));
}

// ---- dequantization: values col .. col + 7 of row `row` of W (col is a multiple of 8; the quantized
// types' blocks hold whole groups of 8, float types may end mid-group and read zeros past the row).

fn dequant8(row: u32, col: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  let base = row * p.row_bytes;
  switch TYPE {
    case 0u: { // F32
      for (var i = 0u; i < 8u; i++) {
        if (col + i < p.in_features) { v[i] = bitcast<f32>(w[(base >> 2u) + col + i]); }
      }
    }
    case 1u, 30u: { // F16, BF16
      for (var i = 0u; i < 8u; i++) {
        if (col + i < p.in_features) {
          let offset = base + 2u * (col + i);
          let bits = (w[offset >> 2u] >> ((offset & 2u) * 8u)) & 0xFFFFu;
          if (TYPE == 1u) { v[i] = unpack2x16float(bits).x; } else { v[i] = bitcast<f32>(bits << 16u); }
        }
      }
    }
    case 8u: { // Q8_0: d f16 | int8 qs[32]
      let block = base + (col / 32u) * 34u;
      let d = f16_at(block);
      let q = bytes8(block + 2u + col % 32u);
      for (var i = 0u; i < 8u; i++) { v[i] = int8(byte_of(q, i)) * d; }
    }
    case 2u, 3u: { // Q4_0: d f16 | qs[16];  Q4_1: d f16 | m f16 | qs[16]. Values 16..31 are high nibbles.
      let j = col % 32u;
      var block: u32;
      var qs: u32;
      if (TYPE == 2u) { block = base + (col / 32u) * 18u; qs = block + 2u; }
      else { block = base + (col / 32u) * 20u; qs = block + 4u; }
      let d = f16_at(block);
      let q = bytes8(qs + j % 16u);
      let shift = (j / 16u) * 4u;
      if (TYPE == 2u) {
        for (var i = 0u; i < 8u; i++) { v[i] = f32(i32((byte_of(q, i) >> shift) & 15u) - 8) * d; }
      } else {
        let m = f16_at(block + 2u);
        for (var i = 0u; i < 8u; i++) { v[i] = f32((byte_of(q, i) >> shift) & 15u) * d + m; }
      }
    }
    case 12u, 13u: { // Q4_K: d | dmin | scales[12] | qs[128];  Q5_K: the same with qh[32] before qs
      let five = TYPE == 13u;
      var block_bytes = 144u;
      var qs_at = 16u;
      if (five) { block_bytes = 176u; qs_at = 48u; }
      let block = base + (col / 256u) * block_bytes;
      let j = col % 256u;
      let sub = j / 32u;
      let l = j % 32u;
      let scale_min = k_scale_min(block + 4u, sub);
      let d = f16_at(block) * scale_min.x;
      let m = f16_at(block + 2u) * scale_min.y;
      let q = bytes8(block + qs_at + 32u * (sub / 2u) + l);
      let shift = (sub & 1u) * 4u;
      var high = vec2<u32>(0u, 0u);
      if (five) { high = bytes8(block + 16u + l); }
      for (var i = 0u; i < 8u; i++) {
        let quant = ((byte_of(q, i) >> shift) & 15u) | (((byte_of(high, i) >> sub) & 1u) << 4u);
        v[i] = d * f32(quant) - m;
      }
    }
    case 14u: { // Q6_K: ql[128] | qh[64] | int8 scales[16] | d f16
      let block = base + (col / 256u) * 210u;
      let j = col % 256u;
      let half = j / 128u;
      let run = (j / 32u) % 4u; // runs 0 and 2 share ql bytes (low, high nibble), as do 1 and 3
      let l = j % 32u;
      let low = bytes8(block + 64u * half + 32u * (run & 1u) + l);
      let low_shift = (run / 2u) * 4u;
      let high = bytes8(block + 128u + 32u * half + l);
      let high_shift = 2u * run;
      let d = f16_at(block + 208u) * int8(byte_at(block + 192u + j / 16u));
      for (var i = 0u; i < 8u; i++) {
        let quant = ((byte_of(low, i) >> low_shift) & 15u) | (((byte_of(high, i) >> high_shift) & 3u) << 4u);
        v[i] = d * f32(i32(quant) - 32);
      }
    }
    default: {}
  }
  return v;
}

// ---- the tiled product

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  // Forward: C = y, A = x, K runs over in and C's columns over out. Backward: C = dx, A = dy, K over out.
  var K = p.in_features;
  var N = p.out_features;
  if (BACKWARD) { K = p.out_features; N = p.in_features; }
  let tm = 16u * ROW_GROUPS;
  let row0 = wg.y * tm;
  let col0 = wg.x * TN;
  // This thread's share of W per step. Forward: row col0 + li / 4, columns k0 + 8 (li % 4) .. + 7 (4
  // threads read a row's 32). Backward: row k0 + li / 8, columns col0 + 8 (li % 8) .. + 7 (8 threads, 64).
  var w_row = col0 + li / 4u;
  var w_col = 8u * (li % 4u);
  if (BACKWARD) { w_row = li / 8u; w_col = col0 + 8u * (li % 8u); }
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var e = li; e < tm * TK; e += 256u) {
      let m = e / TK;
      let k = e % TK;
      var value = 0.0;
      if (row0 + m < p.rows && k0 + k < K) { value = a[(row0 + m) * K + k0 + k]; }
      a_tile[m * TK + k] = value;
    }
    var v: array<f32, 8>;
    if (BACKWARD) {
      if (k0 + w_row < p.out_features && w_col < p.in_features) { v = dequant8(k0 + w_row, w_col); }
      for (var i = 0u; i < 8u; i++) { w_tile[w_row * TN + w_col - col0 + i] = v[i]; }
    } else {
      if (w_row < p.out_features) { v = dequant8(w_row, k0 + w_col); }
      for (var i = 0u; i < 8u; i++) { w_tile[(w_col + i) * TN + w_row - col0] = v[i]; }
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      var wv: array<f32, 4>;
      for (var j = 0u; j < 4u; j++) { wv[j] = w_tile[k * TN + lid.x + 16u * j]; }
      for (var i = 0u; i < ROW_GROUPS; i++) {
        let av = a_tile[(lid.y + 16u * i) * TK + k];
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = fma(av, wv[j], acc[i * 4u + j]); }
      }
    }
    workgroupBarrier();
  }
  // Thread (x, y) holds rows row0 + y + 16i and columns col0 + x + 16j.
  for (var i = 0u; i < ROW_GROUPS; i++) {
    let row = row0 + lid.y + 16u * i;
    if (row >= p.rows) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + 16u * j;
      if (col >= N) { continue; }
      let idx = row * N + col;
      var value = acc[i * 4u + j];
      if (p.beta != 0.0) { value += p.beta * c[idx]; }
      c[idx] = value;
    }
  }
}
