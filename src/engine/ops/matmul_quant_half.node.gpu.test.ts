// The half-precision matmuls (kernels/matmul_quant_tensor.wgsl on tensor cores, kernels/matmul_quant_f16.wgsl in
// f16 arithmetic) against the CPU reference, three ways:
// - on an adapter with the features (shader-f16, subgroup matrices: a real GPU), the kernels themselves;
// - everywhere, their logic with f16 and subgroup matrices emulated (SwiftShader has neither), including the
//   self-test's verdicts and a training step on an emulated kernel;
// - their real WGSL through Dawn's validation on the null backend, in a process of its own.
// Node only: the kernels are the same WGSL in Chromium, where subgroup matrices need --enable-unsafe-webgpu.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Gpu } from '../../gpu/gpu';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { GGML_TYPE_ID, dequantize, quantize } from '../ggml';
import { mulberry32 } from '../../util/random';
import { LoraAdapter } from '../lora';
import { Model } from '../weights';
import { Trainer } from '../trainer';
import { caseTensors, loadReferenceCase } from '../../reference/case';
import { caseReader } from '../../testdata/cases.testing';
import tensorKernel from '../../../kernels/matmul_quant_tensor.wgsl?raw';
import f16Kernel from '../../../kernels/matmul_quant_f16.wgsl?raw';
import {
  type HalfKernel, type TensorShape, f16MatmulSource, halfKernel, quantMatmulForward, quantMatmulKernel, tensorMatmulSource, uploadQuantWeight,
} from './matmul_quant';
import { HALF_CASES, HALF_TOLERANCE, chooseTensorShape, halfCaseError, rowScaledInput, verifyHalfKernel, verifyHalfMatmul } from './matmul_quant_half';
import { quantMatmulForwardRef } from './matmul_quant.reference';
import { emulateF16Arithmetic, emulateSubgroupMatrices } from './half_kernels.emulation.testing';

/** Shapes GPUs offer (DEVICE.md: 16x16x16, 16x8x16 and 16x8x8 on NVIDIA; 8x8x8 on Apple). */
const SHAPES: [number, number, number][] = [[16, 16, 16], [16, 8, 16], [16, 8, 8], [8, 8, 8]];

const caseName = (c: (typeof HALF_CASES)[number]) => `${c.type} ${c.product} [${c.out}, ${c.inF}] x ${c.rows}`;

describe('on this adapter, where it has the features', async () => {
  const gpu = await testGpu();
  const shape = chooseTensorShape(gpu);
  it.skipIf(typeof shape === 'string')(`the tensor kernel is within ${HALF_TOLERANCE.tensor} of the reference on every case`, async () => {
    if (typeof shape === 'string') return;
    for (const c of HALF_CASES) {
      expect(await halfCaseError(gpu, c, { kind: 'tensor', shape, source: tensorMatmulSource(shape) }), caseName(c)).toBeLessThanOrEqual(HALF_TOLERANCE.tensor);
    }
  });
  it.skipIf(!gpu.features.f16)(`the f16 kernel is within ${HALF_TOLERANCE.f16} of the reference on every case`, async () => {
    for (const c of HALF_CASES) {
      expect(await halfCaseError(gpu, c, { kind: 'f16', source: f16MatmulSource() }), caseName(c)).toBeLessThanOrEqual(HALF_TOLERANCE.f16);
    }
  });
  it('the self-test decides what f16 products use', async () => {
    const status = await verifyHalfMatmul(gpu);
    console.log(`half-precision matmul here: ${status.kind ?? 'none'} ${status.reasons.join('; ')}`);
    expect(halfKernel(gpu)?.kind ?? null).toBe(status.kind);
    expect(quantMatmulKernel(256, 'f16', gpu)).toBe(status.kind ?? 'tiled_vec4');
    expect(quantMatmulKernel(256, 'f32', gpu)).toBe('tiled_vec4');
    if (typeof shape === 'string') expect(status.reasons[0]).toBe(`no tensor cores: ${shape}`);
    if (!gpu.features.f16) expect(status).toEqual({ kind: null, shape: null, reasons: [`no tensor cores: ${shape}`, 'no f16 arithmetic: the adapter has no shader-f16'] });
  });
});

interface WgslModule {
  name: string;
  code: string;
  pipelines: { entryPoint: string; constants: Record<string, number> }[];
}

/** scripts/validate-wgsl.mjs on these modules, with the features the kernels need; retried once if Dawn aborts. */
function validateWgsl(modules: WgslModule[]): { name: string; messages: string[]; errors: string[] }[] {
  const input = JSON.stringify({ features: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'], modules });
  const env = { ...process.env, VK_ICD_FILENAMES: undefined, LD_LIBRARY_PATH: undefined }; // the null backend needs no Vulkan
  let run = spawnSync(process.execPath, ['scripts/validate-wgsl.mjs'], { input, env, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) run = spawnSync(process.execPath, ['scripts/validate-wgsl.mjs'], { input, env, encoding: 'utf8', timeout: 60_000 });
  expect(run.status, `${run.signal ?? ''} ${run.error?.message ?? ''} ${run.stderr}`).toBe(0);
  return run.stdout.split('\n').filter((line) => line.startsWith('module ')).map((line) => JSON.parse(line.slice('module '.length)));
}

const TYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_K', 'Q6_K'] as const;

describe("the kernels' real WGSL, validated by Dawn's null backend", () => {
  it('compile, pass uniformity analysis and make a pipeline for every shape, type, tile and product', () => {
    // The tensor kernel's workgroup must be a multiple of the null adapter's largest subgroup (128): 4 subgroups of 32.
    const pipelines = (rowGroups: number[]) => TYPES.flatMap((type) => [0, 1].flatMap((backward) => rowGroups.map((groups) => ({
      entryPoint: 'main', constants: { TYPE: GGML_TYPE_ID[type], BACKWARD: backward, ...(groups ? { ROW_GROUPS: groups } : {}) },
    }))));
    const modules = [
      ...SHAPES.map(([M, N, K]) => ({ name: `tensor ${M}x${N}x${K}`, code: tensorMatmulSource({ M, N, K, subgroupSize: 32 }), pipelines: pipelines([0]) })),
      { name: 'f16', code: f16MatmulSource(), pipelines: pipelines([1, 4]) },
    ];
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

describe('the kernels with f16 and subgroup matrices emulated, against the reference', async () => {
  // A device of its own: the self-tests below register kernels, which must not meet a real one from above.
  const gpu = await Gpu.create();
  const [min, max] = gpu.features.subgroupSizes;
  const subgroups = gpu.features.subgroups && min === max;
  const tensor = (shape: TensorShape, kernel = tensorKernel): HalfKernel => ({ kind: 'tensor', shape, source: tensorMatmulSource(shape, emulateSubgroupMatrices(kernel)) });
  const f16 = (kernel = f16Kernel): HalfKernel => ({ kind: 'f16', source: f16MatmulSource(emulateF16Arithmetic(kernel)) });
  const check = async (kernel: HalfKernel, cases: typeof HALF_CASES) => {
    for (const c of cases) {
      const error = await halfCaseError(gpu, c, kernel);
      expect(error, caseName(c)).toBeLessThanOrEqual(HALF_TOLERANCE[kernel.kind]);
      // f16 rounding is there (the f32 tiles are exact to ~1e-7), and bounded as the tolerance says.
      expect(error, caseName(c)).toBeGreaterThan(1e-5);
    }
  };

  it('f16 arithmetic: every self-test case (64-row and 16-row tiles)', () => check(f16(), HALF_CASES));

  // Emulated, a tensor product costs seconds on SwiftShader: the self-test below runs every case on 16x16x16,
  // and the other shapes take an 8-bit backward (off-tile in K, N and rows).
  const cases = HALF_CASES.filter((c) => c.type === 'Q8_0' && c.product === 'backward');
  for (const [M, N, K] of SHAPES.slice(1)) {
    it.skipIf(!subgroups)(`tensor ${M}x${N}x${K}: ${cases.map(caseName).join(', ')}`, () => check(tensor({ M, N, K, subgroupSize: max }), cases));
  }

  for (const kind of ['tensor', 'f16'] as const) {
    it.skipIf(kind === 'tensor' && !subgroups)(`${kind}: a vocabulary chunk of W into a column window of C`, async () => {
      const half = kind === 'tensor' ? tensor({ M: 16, N: 16, K: 16, subgroupSize: max }) : f16();
      const [out, inF, rows, first, chunk, ldy, yOffset] = [200, 64, 70, 37, 90, 130, 20];
      const next = mulberry32(5);
      const bytes = quantize('Q8_0', Float32Array.from({ length: out * inF }, () => next() - 0.5));
      const exact = dequantize('Q8_0', bytes, out * inF);
      const w = uploadQuantWeight(gpu, 'w', 'Q8_0', bytes, out, inF);
      const x = rowScaledInput(rows, inF, 9);
      const y0 = Float32Array.from({ length: rows * ldy }, () => next());
      const gx = gpu.upload('x', x);
      const gy = gpu.upload('y', y0);
      await gpu.submit((enc) => quantMatmulForward(gpu, enc, { x: gx, w, wRows: { firstRow: first, rows: chunk }, y: gy, rows, ldy, yOffset, half }));
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
          expect(Math.abs(got[i] - want[k]), `(${r}, ${j})`).toBeLessThanOrEqual(HALF_TOLERANCE[kind] * bound[k] + 1e-30);
        }
      }
      gpu.destroy(gx, gy, w.buffer);
    });
  }

  // Emulated kernels are slow on SwiftShader: these tests get more time than the default.
  const slow = 300_000;

  it.skipIf(!subgroups)('the self-test refuses wrong kernels, in numbers or in the compiler\'s words', async () => {
    const shape = { M: 16, N: 16, K: 16, subgroupSize: max };
    // Kernels without the row scaling: f16 loses the small rows' values (and overflows on the large ones).
    const unscaled = (kernel: string) => kernel.replace(' * row_scale[m]', '').replace(' / row_scale[m]', '');
    const wrongTensor = await verifyHalfKernel(gpu, tensor(shape, unscaled(tensorKernel)));
    expect(wrongTensor).toMatch(/^the 16x16x16 tensor kernel failed its self-test: Q4_K forward \[40, 256\] x 70 rows is off by \d/);
    const wrongF16 = await verifyHalfKernel(gpu, f16(unscaled(f16Kernel)));
    expect(wrongF16).toMatch(/^the f16 kernel failed its self-test: Q4_K forward \[40, 256\] x 70 rows is off by \d/);
    const broken = await verifyHalfKernel(gpu, f16(f16Kernel.replace('acc[i][j] / row_scale[m]', 'acc[i] / row_scale[m]')));
    expect(broken).toMatch(/^the f16 kernel does not compile or run here: /);
    expect(halfKernel(gpu)).toBeNull();
    expect(quantMatmulKernel(256, 'f16', gpu)).toBe('tiled_vec4');
  }, slow);

  it.skipIf(!subgroups)('the f16 kernel passes its self-test, and then a training step with f16 activations runs on it', async () => {
    const c = await loadReferenceCase(caseReader('reference/llama-tiny'));
    const { base, lora: loraTensors } = caseTensors(c);
    const model = Model.fromTensors(gpu, c.spec, base);
    const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
    const adamw = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw, maxGradNorm: 0, recompute: false, activations: 'f16' });
    try {
      lora.load(loraTensors);
      const tiles = await trainer.step([c.batch], { captureGradients: true });
      // Compiling every type's pipeline (as a real GPU does) takes SwiftShader seconds each: one type here.
      expect(await verifyHalfKernel(gpu, f16(), ['Q6_K'])).toBeNull();
      expect(quantMatmulKernel(256, 'f16', gpu)).toBe('f16');
      expect(quantMatmulKernel(256, 'f32', gpu)).toBe('tiled_vec4');
      lora.load(loraTensors);
      const half = await trainer.step([c.batch], { captureGradients: true });
      const lossError = Math.abs(half.loss - tiles.loss) / tiles.loss;
      const gradError = maxRelError(half.gradients!, tiles.gradients!);
      console.log(`f16 step, f16 kernel (emulated) vs f32 tiles: loss ${lossError.toExponential(2)}, gradients ${gradError.toExponential(2)}`);
      expect(lossError).toBeLessThan(1e-3);
      expect(gradError).toBeLessThan(2e-2);
      expect(gradError).toBeGreaterThan(0); // it did take the f16 path
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  }, slow);

  it.skipIf(!subgroups)('the tensor kernel passes its self-test, and f16 products then take it', async () => {
    expect(await verifyHalfKernel(gpu, tensor({ M: 16, N: 16, K: 16, subgroupSize: max }), ['Q6_K'])).toBeNull();
    expect(quantMatmulKernel(256, 'f16', gpu)).toBe('tensor');
    expect(quantMatmulKernel(256, 'f32', gpu)).toBe('tiled_vec4');
  }, slow);
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
