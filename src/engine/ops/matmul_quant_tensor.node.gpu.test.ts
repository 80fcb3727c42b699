// The tensor-core matmul (kernels/matmul_quant_tensor.wgsl) against the CPU reference, three ways:
// - on an adapter with shader-f16 and subgroup matrices (a real GPU), the kernel itself;
// - everywhere, its logic with the subgroup matrices emulated (SwiftShader has neither feature), including the
//   self-test's verdicts and a training step on the emulated path;
// - its real WGSL through Dawn's validation on the null backend, in a process of its own.
// Node only: the kernel is the same WGSL in Chromium, where the feature needs --enable-unsafe-webgpu.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { GGML_TYPE_ID, dequantize, quantize } from '../ggml';
import { mulberry32 } from '../../util/random';
import { LoraAdapter } from '../lora';
import { Model } from '../weights';
import { Trainer } from '../trainer';
import { caseTensors, loadReferenceCase } from '../../reference/case';
import { caseReader } from '../../testdata/cases.testing';
import tensorKernel from '../../../kernels/matmul_quant_tensor.wgsl?raw';
import { type TensorKernel, type TensorShape, quantMatmulForward, quantMatmulKernel, tensorMatmulShape, tensorMatmulSource, uploadQuantWeight } from './matmul_quant';
import { TENSOR_CASES, TENSOR_TOLERANCE, chooseTensorShape, rowScaledInput, tensorCaseError, verifyTensorKernel, verifyTensorMatmul } from './matmul_quant_tensor';
import { quantMatmulForwardRef } from './matmul_quant.reference';
import { emulateSubgroupMatrices } from './subgroup_matrix.emulation.testing';

/** Shapes GPUs offer (DEVICE.md: 16x16x16, 16x8x16 and 16x8x8 on NVIDIA; 8x8x8 on Apple). */
const SHAPES: [number, number, number][] = [[16, 16, 16], [16, 8, 16], [16, 8, 8], [8, 8, 8]];

const caseName = (c: (typeof TENSOR_CASES)[number]) => `${c.type} ${c.product} [${c.out}, ${c.inF}] x ${c.rows}`;

describe('on this adapter, where it has shader-f16 and subgroup matrices', async () => {
  const gpu = await testGpu();
  const shape = chooseTensorShape(gpu);
  it.skipIf(typeof shape === 'string')(`the kernel is within ${TENSOR_TOLERANCE} of the reference on every case`, async () => {
    if (typeof shape === 'string') return;
    for (const c of TENSOR_CASES) {
      expect(await tensorCaseError(gpu, c, { shape, source: tensorMatmulSource(shape) }), caseName(c)).toBeLessThanOrEqual(TENSOR_TOLERANCE);
    }
  });
  it('the self-test decides whether f16 products use the tensor cores', async () => {
    const status = await verifyTensorMatmul(gpu);
    console.log(`tensor matmul here: ${status.shape ? JSON.stringify(status.shape) : status.reason}`);
    expect(tensorMatmulShape(gpu)).toEqual(status.shape);
    expect(quantMatmulKernel(256, 'f16', gpu)).toBe(status.shape ? 'tensor' : 'tiled_vec4');
    expect(quantMatmulKernel(256, 'f32', gpu)).toBe('tiled_vec4');
    if (typeof shape === 'string') expect(status.reason).toBe(shape);
  });
});

interface WgslModule {
  name: string;
  code: string;
  pipelines: { entryPoint: string; constants: Record<string, number> }[];
}

/** scripts/validate-wgsl.mjs on these modules, with the features the tensor kernel needs; retried once if Dawn aborts. */
function validateWgsl(modules: WgslModule[]): { name: string; messages: string[]; errors: string[] }[] {
  const input = JSON.stringify({ features: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'], modules });
  const env = { ...process.env, VK_ICD_FILENAMES: undefined, LD_LIBRARY_PATH: undefined }; // the null backend needs no Vulkan
  let run = spawnSync(process.execPath, ['scripts/validate-wgsl.mjs'], { input, env, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) run = spawnSync(process.execPath, ['scripts/validate-wgsl.mjs'], { input, env, encoding: 'utf8', timeout: 60_000 });
  expect(run.status, `${run.signal ?? ""} ${run.error?.message ?? ""} ${run.stderr}`).toBe(0);
  return run.stdout.split('\n').filter((line) => line.startsWith('module ')).map((line) => JSON.parse(line.slice('module '.length)));
}

describe("the kernel's real WGSL, validated by Dawn's null backend", () => {
  it('compiles, passes uniformity analysis and makes a pipeline for every shape, type and product', () => {
    // The workgroup's width must be a multiple of the null adapter's largest subgroup (128): 4 subgroups of 32.
    const modules = SHAPES.map(([M, N, K]) => ({
      name: `${M}x${N}x${K}`,
      code: tensorMatmulSource({ M, N, K, subgroupSize: 32 }),
      pipelines: (['F32', 'F16', 'BF16', 'Q8_0', 'Q4_K', 'Q6_K'] as const).flatMap((type) =>
        [0, 1].map((backward) => ({ entryPoint: 'main', constants: { TYPE: GGML_TYPE_ID[type], BACKWARD: backward } }))),
    }));
    const results = validateWgsl(modules);
    expect(results.map((r) => r.name)).toEqual(modules.map((m) => m.name));
    for (const r of results) expect({ name: r.name, messages: r.messages, errors: r.errors }).toEqual({ name: r.name, messages: [], errors: [] });
  });

  it('and would refuse a kernel with a type error (the check can fail)', () => {
    const code = tensorMatmulSource({ M: 16, N: 16, K: 16, subgroupSize: 32 }).replace('a_tile[e] = f16(value);', 'a_tile[e] = value;');
    const [result] = validateWgsl([{ name: 'broken', code, pipelines: [] }]);
    expect(result.messages.join('\n')).toMatch(/error .*cannot assign 'f32' to 'f16'/);
  });
});

describe('the kernel with subgroup matrices emulated, against the reference', async () => {
  const gpu = await testGpu();
  const [min, max] = gpu.features.subgroupSizes;
  const runs = gpu.features.subgroups && min === max;
  const emulated = (shape: TensorShape, kernel = tensorKernel): TensorKernel => ({ shape, source: tensorMatmulSource(shape, emulateSubgroupMatrices(kernel)) });
  // Emulated, a product costs seconds on SwiftShader (the self-test below runs every case on 16x16x16): an
  // 8-bit forward and an f32 backward whose row ends mid-group, and an 8-bit backward for the other shapes.
  const pick = (type: string, product: string) => TENSOR_CASES.filter((c) => c.type === type && c.product === product);
  for (const [M, N, K] of SHAPES) {
    const cases = M === 16 && N === 16 && K === 16 ? [...pick('Q8_0', 'forward'), ...pick('F32', 'backward')] : pick('Q8_0', 'backward');
    it.skipIf(!runs)(`${M}x${N}x${K}: ${cases.map(caseName).join(', ')}`, async () => {
      const kernel = emulated({ M, N, K, subgroupSize: max });
      for (const c of cases) {
        const error = await tensorCaseError(gpu, c, kernel);
        expect(error, caseName(c)).toBeLessThanOrEqual(TENSOR_TOLERANCE);
        // f16 rounding is there (the f32 tiles are exact to ~1e-7), and bounded as the tolerance says.
        expect(error, caseName(c)).toBeGreaterThan(1e-5);
      }
    });
  }

  it.skipIf(!runs)('a vocabulary chunk of W into a column window of C', async () => {
    const tensor = emulated({ M: 16, N: 16, K: 16, subgroupSize: max });
    const [out, inF, rows, first, chunk, ldy, yOffset] = [200, 64, 70, 37, 90, 130, 20];
    const next = mulberry32(5);
    const bytes = quantize('Q8_0', Float32Array.from({ length: out * inF }, () => next() - 0.5));
    const exact = dequantize('Q8_0', bytes, out * inF);
    const w = uploadQuantWeight(gpu, 'w', 'Q8_0', bytes, out, inF);
    const x = rowScaledInput(rows, inF, 9);
    const y0 = Float32Array.from({ length: rows * ldy }, () => next());
    const gx = gpu.upload('x', x);
    const gy = gpu.upload('y', y0);
    await gpu.submit((enc) => quantMatmulForward(gpu, enc, { x: gx, w, wRows: { firstRow: first, rows: chunk }, y: gy, rows, ldy, yOffset, tensor }));
    const got = await gpu.readF32(gy, rows * ldy);
    const chunkValues = exact.subarray(first * inF, (first + chunk) * inF);
    const want = quantMatmulForwardRef(x, chunkValues, new Float32Array(rows * chunk), rows, chunk, inF, 0);
    const bound = quantMatmulForwardRef(x.map(Math.abs), chunkValues.map(Math.abs), new Float32Array(rows * chunk), rows, chunk, inF, 0);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < ldy; j++) {
        const i = r * ldy + j;
        const inside = j >= yOffset && j < yOffset + chunk;
        if (!inside) { expect(got[i], `untouched (${r}, ${j})`).toBe(y0[i]); continue; }
        const k = r * chunk + j - yOffset;
        expect(Math.abs(got[i] - want[k]), `(${r}, ${j})`).toBeLessThanOrEqual(TENSOR_TOLERANCE * bound[k] + 1e-30);
      }
    }
    gpu.destroy(gx, gy, w.buffer);
  });

  it.skipIf(!runs)('the self-test refuses a wrong kernel, accepts the right one, and then a training step in f16 runs on it', async () => {
    const shape = { M: 16, N: 16, K: 16, subgroupSize: max };
    // A kernel that forgets to scale C's rows back is off by up to 2^14 times.
    const wrong = emulated(shape, tensorKernel.replace('c_tile[mine + e] / row_scale[m]', 'c_tile[mine + e]'));
    const refused = await verifyTensorKernel(gpu, wrong);
    expect(refused.shape).toBeNull();
    expect(refused.reason).toMatch(/^the 16x16x16 kernel failed its self-test: Q4_K forward \[40, 256\] x 70 rows is off by \d/);
    expect(tensorMatmulShape(gpu)).toBeNull();
    expect(quantMatmulKernel(256, 'f16', gpu)).toBe('tiled_vec4');

    const c = await loadReferenceCase(caseReader('reference/llama-tiny'));
    const { base, lora: loraTensors } = caseTensors(c);
    const model = Model.fromTensors(gpu, c.spec, base);
    const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
    const adamw = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw, maxGradNorm: 0, recompute: false, activations: 'f16' });
    try {
      lora.load(loraTensors);
      const tiles = await trainer.step([c.batch], { captureGradients: true });
      expect(await verifyTensorKernel(gpu, emulated(shape))).toEqual({ shape });
      expect(quantMatmulKernel(256, 'f16', gpu)).toBe('tensor');
      expect(quantMatmulKernel(256, 'f32', gpu)).toBe('tiled_vec4');
      lora.load(loraTensors);
      const tensor = await trainer.step([c.batch], { captureGradients: true });
      const lossError = Math.abs(tensor.loss - tiles.loss) / tiles.loss;
      const gradError = maxRelError(tensor.gradients!, tiles.gradients!);
      console.log(`f16 step, tensor kernel (emulated) vs f32 tiles: loss ${lossError.toExponential(2)}, gradients ${gradError.toExponential(2)}`);
      expect(lossError).toBeLessThan(1e-3);
      expect(gradError).toBeLessThan(2e-2);
      expect(gradError).toBeGreaterThan(0); // it did take the tensor path
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  });
});

describe('chooseTensorShape', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupStorageSize: 16384 } as GPUSupportedLimits;
  const features = {
    f16: true, subgroups: true, subgroupId: true, subgroupSizes: [32, 32] as [number, number], timestamps: true,
    subgroupMatrix: [
      { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 },
      { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 16 },
      { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
      { componentType: 'u8', resultComponentType: 'u32', M: 16, N: 16, K: 32 },
    ],
  };
  it('takes the largest f16 -> f32 shape the kernel tiles', () => {
    expect(chooseTensorShape({ features, limits })).toEqual({ M: 16, N: 16, K: 16, subgroupSize: 32 });
  });
  it('says why not', () => {
    expect(chooseTensorShape({ features: { ...features, f16: false }, limits })).toMatch(/no shader-f16/);
    expect(chooseTensorShape({ features: { ...features, subgroupMatrix: [] }, limits })).toMatch(/no chromium-experimental-subgroup-matrix/);
    expect(chooseTensorShape({ features: { ...features, subgroupSizes: [16, 32] }, limits })).toMatch(/not fixed \(16\.\.32\)/);
    expect(chooseTensorShape({ features: { ...features, subgroupSizes: [128, 128] }, limits })).toMatch(/exceeds/);
    expect(chooseTensorShape({ features: { ...features, subgroupMatrix: [features.subgroupMatrix[3]] }, limits })).toMatch(/among u8->u32 16x16x32/);
    // 32 x 32 results need 24.25 KiB of workgroup memory.
    const big = { componentType: 'f16', resultComponentType: 'f32', M: 32, N: 32, K: 16 };
    expect(chooseTensorShape({ features: { ...features, subgroupMatrix: [big] }, limits })).toMatch(/no f16 -> f32/);
    expect(chooseTensorShape({ features: { ...features, subgroupMatrix: [big] }, limits: { ...limits, maxComputeWorkgroupStorageSize: 32768 } })).toEqual({ M: 32, N: 32, K: 16, subgroupSize: 32 });
  });
});
