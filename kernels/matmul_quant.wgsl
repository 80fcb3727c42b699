// Products with a frozen weight W [out, in] kept as raw GGML blocks (src/engine/ggml.ts has the
// layouts), dequantized on the fly (the products and their interface: kernels/matmul_quant_interface.wgsl).
// A workgroup of 16x16 threads computes a (16 * ROW_GROUPS) x 64 tile of the output in K-steps of 32: per
// step every thread dequantizes 8 consecutive values of one row of W into workgroup memory, where the whole
// row tile reuses them. ROW_GROUPS is 4 (64 rows, 4x4 outputs per thread) or 1 for few rows (<= 16).
// main_vec4 (K a multiple of 4) is the same tile with vectorised loads: A is read from memory as vec4s, both
// tiles are vec4s in workgroup memory, and thread (x, y) owns rows ROW_GROUPS y .. + ROW_GROUPS - 1 and the 4
// adjacent columns 4x .. 4x + 3: per 4 steps of k it reads ROW_GROUPS vec4s of A's tile and 4 of W's, and
// accumulates in vec4 registers.
// Pipelines are made per entry point, TYPE (the GGML type id), ROW_GROUPS and BACKWARD (which product). The
// wrapper appends the interface and the block decoding (dequant8, kernels/ggml_blocks.wgsl).

override ROW_GROUPS: u32 = 4u;

// A as vec4s, for main_vec4 (Params, TYPE, BACKWARD, p, a, w and c: kernels/matmul_quant_interface.wgsl).
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;

const TN: u32 = 64u; // output columns per workgroup
const TK: u32 = 32u; // K per step
var<workgroup> a_tile: array<f32, 2048>; // [16 * ROW_GROUPS][TK]
var<workgroup> w_tile: array<f32, 2048>; // [TK][TN]
var<workgroup> a_tile4: array<vec4<f32>, 512>; // main_vec4: [16 * ROW_GROUPS][TK / 4]
var<workgroup> w_tile4: array<vec4<f32>, 512>; // main_vec4: [TK][TN / 4]

// ---- the tiled product

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  // Forward: C = y, A = x, K runs over in and C's columns over out. Backward: C = dx, A = dy, K over out.
  let K = summed_length();
  let N = output_columns();
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
      if (k0 + w_row < p.out_features && w_col < p.in_features) { v = dequant8((p.w_row0 + k0 + w_row) * p.row_bytes, w_col, p.in_features); }
      for (var i = 0u; i < 8u; i++) { w_tile[w_row * TN + w_col - col0 + i] = v[i]; }
    } else {
      if (w_row < p.out_features) { v = dequant8((p.w_row0 + w_row) * p.row_bytes, k0 + w_col, p.in_features); }
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
      let idx = p.c_offset + row * p.ldc + col;
      var value = acc[i * 4u + j];
      if (p.beta != 0.0) { value += p.beta * c[idx]; }
      c[idx] = value;
    }
  }
}

// ---- the same tile with vectorised loads (K % 4 == 0)

@compute @workgroup_size(16, 16)
fn main_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let K = summed_length();
  let N = output_columns();
  let K4 = K / 4u;
  let tm = 16u * ROW_GROUPS;
  let row0 = wg.y * tm;
  let col0 = wg.x * TN;
  var w_row = col0 + li / 4u;
  var w_col = 8u * (li % 4u);
  if (BACKWARD) { w_row = li / 8u; w_col = col0 + 8u * (li % 8u); }
  var acc: array<vec4<f32>, 4>; // [row in ROW_GROUPS]
  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var e = li; e < tm * (TK / 4u); e += 256u) {
      let m = e / (TK / 4u);
      let k4 = e % (TK / 4u);
      var value = vec4<f32>(0.0);
      if (row0 + m < p.rows && k0 + 4u * k4 < K) { value = a4[(row0 + m) * K4 + k0 / 4u + k4]; }
      a_tile4[e] = value;
    }
    var v: array<f32, 8>;
    if (BACKWARD) {
      if (k0 + w_row < p.out_features && w_col < p.in_features) { v = dequant8((p.w_row0 + k0 + w_row) * p.row_bytes, w_col, p.in_features); }
      let at = (w_row * TN + w_col - col0) / 4u; // w_col - col0 is a multiple of 8
      w_tile4[at] = vec4<f32>(v[0], v[1], v[2], v[3]);
      w_tile4[at + 1u] = vec4<f32>(v[4], v[5], v[6], v[7]);
    } else {
      if (w_row < p.out_features) { v = dequant8((p.w_row0 + w_row) * p.row_bytes, k0 + w_col, p.in_features); }
      let n = w_row - col0;
      for (var i = 0u; i < 8u; i++) { w_tile4[((w_col + i) * TN + n) / 4u][n % 4u] = v[i]; }
    }
    workgroupBarrier();
    for (var k4 = 0u; k4 < TK / 4u; k4++) {
      let w0 = w_tile4[(4u * k4) * (TN / 4u) + lid.x];
      let w1 = w_tile4[(4u * k4 + 1u) * (TN / 4u) + lid.x];
      let w2 = w_tile4[(4u * k4 + 2u) * (TN / 4u) + lid.x];
      let w3 = w_tile4[(4u * k4 + 3u) * (TN / 4u) + lid.x];
      for (var i = 0u; i < ROW_GROUPS; i++) {
        let av = a_tile4[(lid.y * ROW_GROUPS + i) * (TK / 4u) + k4];
        acc[i] = fma(vec4<f32>(av.x), w0, acc[i]);
        acc[i] = fma(vec4<f32>(av.y), w1, acc[i]);
        acc[i] = fma(vec4<f32>(av.z), w2, acc[i]);
        acc[i] = fma(vec4<f32>(av.w), w3, acc[i]);
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ROW_GROUPS; i++) {
    let row = row0 + lid.y * ROW_GROUPS + i;
    if (row >= p.rows) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (col >= N) { break; }
      let idx = p.c_offset + row * p.ldc + col;
      var value = acc[i][j];
      if (p.beta != 0.0) { value += p.beta * c[idx]; }
      c[idx] = value;
    }
  }
}
