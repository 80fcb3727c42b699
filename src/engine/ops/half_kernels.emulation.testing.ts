// The half-precision kernels rewritten so that an adapter without shader-f16 and subgroup matrices (SwiftShader)
// runs their logic: f16 values are f32s rounded to f16 (pack2x16float) after every f16 operation, and in the
// tensor kernel (kernels/matmul_quant_tensor.wgsl) every invocation of a subgroup holds a whole matrix as an f32
// array and computes what the subgroup would. Tiles, offsets, strides, row scales, barriers and output are the
// kernels' own. Test-only stand-ins: the real kernels run only where the adapter has the features
// (matmul_quant_half.node.gpu.test.ts).

const ROUNDING = `
fn to_f16(x: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x; }
fn to_f16x4(x: vec4<f32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(pack2x16float(x.xy)), unpack2x16float(pack2x16float(x.zw))); }
`;

const SUBGROUP_MATRICES = `
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
  return `${s}\n${ROUNDING}\n${SUBGROUP_MATRICES}`;
}

/** The f16-arithmetic kernel's text with f16 emulated (before f16MatmulSource appends the block decoding). */
export function emulateF16Arithmetic(kernel: string): string {
  let s = kernel;
  s = replaceCounted(s, /^enable f16;$/gm, '', 1);
  s = replaceCounted(s, /array<vec4<f16>, /g, 'array<vec4<f32>, ', 2);
  s = replaceCounted(s, /vec4<f16>\(vec4<f32>\(/g, 'to_f16x4(vec4<f32>(', 2);
  // Each f16 fma rounds once; f32 holds the exact product of two f16s, so rounding the f32 fma to f16 matches.
  s = replaceCounted(
    s,
    /acc\[i\] \+= vec4<f32>\(fma\(vec4<f16>\(av\.w\), w3, fma\(vec4<f16>\(av\.z\), w2, fma\(vec4<f16>\(av\.y\), w1, vec4<f16>\(av\.x\) \* w0\)\)\)\);/g,
    'acc[i] += to_f16x4(fma(vec4<f32>(av.w), w3, to_f16x4(fma(vec4<f32>(av.z), w2, to_f16x4(fma(vec4<f32>(av.y), w1, to_f16x4(vec4<f32>(av.x) * w0)))))));',
    1,
  );
  s = replaceCounted(s, /\bf16\(/g, 'to_f16(', 2);
  return `${s}\n${ROUNDING}`;
}
