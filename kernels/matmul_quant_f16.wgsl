enable f16;
// The products of kernels/matmul_quant.wgsl with f16 arithmetic, for adapters with shader-f16 (and no tensor
// cores, or none that passed their self-test: see matmul_quant_tensor.wgsl):
//   forward:  y [rows, out] (+)= x [rows, in] W^T
//   backward: dx [rows, in] (+)= dy [rows, out] W
// with their interface (kernels/matmul_quant_interface.wgsl), ROW_GROUPS, and the tiling of main_vec4: a
// (16 ROW_GROUPS) x 64 tile of C per workgroup of 16 x 16 threads, K-steps of 32, thread (x, y) owning rows
// ROW_GROUPS y .. + ROW_GROUPS - 1 and columns 4x .. 4x + 3. Both tiles are vec4<f16> in workgroup memory (half
// the bytes), each 4 steps of k are multiplied and summed in f16, and those sums accumulate in f32.
// f16 has f32's range of neither values nor sums, so each row of A is first scaled by the power of two that
// brings its largest magnitude into [2^4, 2^5) (exact), and C's row is scaled back at the end: a sum of 4
// products then stays below f16's 65504 for weights below 500 (real checkpoints' stay far below), and values
// down to 2^-19 of the row's largest stay normal f16s. The wrapper appends the interface and
// kernels/ggml_blocks.wgsl.

override ROW_GROUPS: u32 = 4u;

const TN: u32 = 64u; // output columns per workgroup
const TK: u32 = 32u; // K per step
var<workgroup> a_tile: array<vec4<f16>, 512>; // [16 * ROW_GROUPS][TK / 4], over k
var<workgroup> w_tile: array<vec4<f16>, 512>; // [TK][TN / 4], over n
var<workgroup> row_max: array<f32, 256>;      // 4 partial maxima per row
var<workgroup> row_scale: array<f32, 64>;     // [16 * ROW_GROUPS]: the power of two row m of A is scaled by

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let K = summed_length();
  let N = output_columns();
  let tm = 16u * ROW_GROUPS;
  let row0 = wg.y * tm;
  let col0 = wg.x * TN;

  // Four threads per row find its largest |a|.
  let m_scan = li / 4u;
  var largest = 0.0;
  if (m_scan < tm && row0 + m_scan < p.rows) {
    for (var k = li % 4u; k < K; k += 4u) { largest = max(largest, abs(a[(row0 + m_scan) * K + k])); }
  }
  row_max[li] = largest;
  workgroupBarrier();
  if (li < tm) {
    let m = max(max(row_max[4u * li], row_max[4u * li + 1u]), max(row_max[4u * li + 2u], row_max[4u * li + 3u]));
    let e = select(5, frexp(m).exp, m > 0.0); // m < 2^e
    row_scale[li] = ldexp(1.0, clamp(5 - e, -126, 126));
  }
  workgroupBarrier();

  var w_row = col0 + li / 4u;
  var w_col = 8u * (li % 4u);
  if (BACKWARD) { w_row = li / 8u; w_col = col0 + 8u * (li % 8u); }
  var acc: array<vec4<f32>, 4>; // [row in ROW_GROUPS]
  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var e = li; e < tm * TK; e += 256u) {
      let m = e / TK;
      let k = e % TK;
      var value = 0.0;
      if (row0 + m < p.rows && k0 + k < K) { value = a[(row0 + m) * K + k0 + k] * row_scale[m]; }
      a_tile[m * (TK / 4u) + k / 4u][k % 4u] = f16(value);
    }
    var v: array<f32, 8>;
    if (BACKWARD) {
      if (k0 + w_row < p.out_features && w_col < p.in_features) { v = dequant8((p.w_row0 + k0 + w_row) * p.row_bytes, w_col, p.in_features); }
      let at = (w_row * TN + w_col - col0) / 4u; // w_col - col0 is a multiple of 8
      w_tile[at] = vec4<f16>(vec4<f32>(v[0], v[1], v[2], v[3]));
      w_tile[at + 1u] = vec4<f16>(vec4<f32>(v[4], v[5], v[6], v[7]));
    } else {
      if (w_row < p.out_features) { v = dequant8((p.w_row0 + w_row) * p.row_bytes, k0 + w_col, p.in_features); }
      let n = w_row - col0;
      for (var i = 0u; i < 8u; i++) { w_tile[((w_col + i) * TN + n) / 4u][n % 4u] = f16(v[i]); }
    }
    workgroupBarrier();
    for (var k4 = 0u; k4 < TK / 4u; k4++) {
      let w0 = w_tile[(4u * k4) * (TN / 4u) + lid.x];
      let w1 = w_tile[(4u * k4 + 1u) * (TN / 4u) + lid.x];
      let w2 = w_tile[(4u * k4 + 2u) * (TN / 4u) + lid.x];
      let w3 = w_tile[(4u * k4 + 3u) * (TN / 4u) + lid.x];
      for (var i = 0u; i < ROW_GROUPS; i++) {
        let av = a_tile[(lid.y * ROW_GROUPS + i) * (TK / 4u) + k4];
        acc[i] += vec4<f32>(fma(vec4<f16>(av.w), w3, fma(vec4<f16>(av.z), w2, fma(vec4<f16>(av.y), w1, vec4<f16>(av.x) * w0))));
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ROW_GROUPS; i++) {
    let m = lid.y * ROW_GROUPS + i;
    let row = row0 + m;
    if (row >= p.rows) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (col >= N) { break; }
      let idx = p.c_offset + row * p.ldc + col;
      var value = acc[i][j] / row_scale[m];
      if (p.beta != 0.0) { value += p.beta * c[idx]; }
      c[idx] = value;
    }
  }
}
