// The tensor kernel (kernels/matmul_quant_tensor.wgsl) rewritten so that an adapter without shader-f16 and
// subgroup matrices (SwiftShader) runs its logic: every invocation of a subgroup holds a whole matrix as an
// f32 array and computes what the subgroup would, f16 values are f32s rounded to f16 (pack2x16float), and the
// tiles, offsets, strides, row scales, barriers and output are the kernel's own. A test-only stand-in: the real
// builtins run only where the adapter has them (matmul_quant_tensor.node.gpu.test.ts).

const EMULATION = `
fn to_f16(x: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x; }

fn sm_load_left(offset: u32, stride: u32) -> array<f32, SK * SM> {
  var m: array<f32, SK * SM>;
  for (var r = 0u; r < SM; r++) { for (var c = 0u; c < SK; c++) { m[r * SK + c] = a_tile[offset + r * stride + c]; } }
  return m;
}

fn sm_load_right(offset: u32, stride: u32) -> array<f32, SN * SK> {
  var m: array<f32, SN * SK>;
  for (var r = 0u; r < SK; r++) { for (var c = 0u; c < SN; c++) { m[r * SN + c] = w_tile[offset + r * stride + c]; } }
  return m;
}

fn sm_mma(left: array<f32, SK * SM>, right: array<f32, SN * SK>, acc: array<f32, SN * SM>) -> array<f32, SN * SM> {
  var out = acc;
  for (var r = 0u; r < SM; r++) {
    for (var c = 0u; c < SN; c++) {
      var sum = out[r * SN + c];
      for (var k = 0u; k < SK; k++) { sum = fma(left[r * SK + k], right[k * SN + c], sum); }
      out[r * SN + c] = sum;
    }
  }
  return out;
}

fn sm_store_result(offset: u32, m: array<f32, SN * SM>, stride: u32) {
  for (var r = 0u; r < SM; r++) { for (var c = 0u; c < SN; c++) { c_tile[offset + r * stride + c] = m[r * SN + c]; } }
}
`;

/** Replaces every match of `pattern` and checks there were `count` of them, so a changed kernel fails loudly. */
function replaceCounted(source: string, pattern: RegExp, replacement: string, count: number): string {
  const found = source.match(pattern)?.length ?? 0;
  if (found !== count) throw new Error(`subgroup matrix emulation: expected ${count} matches of ${pattern}, found ${found}`);
  return source.replace(pattern, replacement);
}

/** The tensor kernel's text with subgroup matrices emulated (before tensorMatmulSource appends its constants). */
export function emulateSubgroupMatrices(kernel: string): string {
  let s = kernel;
  s = replaceCounted(s, /^enable (f16|chromium_experimental_subgroup_matrix);$/gm, '', 2);
  s = replaceCounted(s, /subgroupMatrixLoad<subgroup_matrix_left<f16, SK, SM>, row_major>\(&a_tile, /g, 'sm_load_left(', 1);
  s = replaceCounted(s, /subgroupMatrixLoad<subgroup_matrix_right<f16, SN, SK>, row_major>\(&w_tile, /g, 'sm_load_right(', 1);
  s = replaceCounted(s, /subgroupMatrixStore<row_major>\(&c_tile, /g, 'sm_store_result(', 1);
  s = replaceCounted(s, /subgroupMatrixMultiplyAccumulate\(/g, 'sm_mma(', 1);
  s = replaceCounted(s, /subgroup_matrix_(?:left|right|result)<f(?:16|32), (\w+), (\w+)>/g, 'array<f32, $1 * $2>', 2);
  s = replaceCounted(s, /array<f16, /g, 'array<f32, ', 2);
  s = replaceCounted(s, /\bf16\(/g, 'to_f16(', 3);
  return `${s}\n${EMULATION}`;
}
