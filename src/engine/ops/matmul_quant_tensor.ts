// The tensor-core path of matmul_quant (kernels/matmul_quant_tensor.wgsl): which subgroup matrix shape this GPU
// offers, and the self-test against the CPU reference that must pass on it before any product uses it.
import type { Gpu } from '../../gpu/gpu';
import { type GgmlType, dequantize, quantize } from '../ggml';
import { mulberry32 } from '../../util/random';
import {
  type TensorKernel, type TensorShape, quantMatmulBackward, quantMatmulForward, tensorMatmulShape, tensorMatmulSource, uploadQuantWeight,
  useTensorMatmul,
} from './matmul_quant';
import { quantMatmulBackwardRef, quantMatmulForwardRef } from './matmul_quant.reference';

/** The shape in use, or why there is none. */
export type TensorMatmulStatus = { shape: TensorShape; reason?: undefined } | { shape: null; reason: string };

/**
 * Largest |error| of an output over the sum of |products| (and |beta c0|) that makes it. Rounding both operands
 * to f16 costs at most 2^-10 of that; the rest is room for the order of f32 sums.
 */
export const TENSOR_TOLERANCE = 2e-3;

const SIDES = [8, 16, 32];

/** Workgroup memory of the kernel: f16 tiles of A and W, one result matrix per subgroup, the row scales. */
function workgroupBytes(M: number, N: number): number {
  return 2 * 2048 * 2 + 4 * M * N * 4 + 64 * 4;
}

/**
 * The largest f16 -> f32 subgroup matrix shape the adapter offers whose sides divide the kernel's 32 x 32
 * subgroup quarters and 32-deep steps, or why the kernel cannot run here.
 */
export function chooseTensorShape(gpu: Pick<Gpu, 'features' | 'limits'>): TensorShape | string {
  const { features, limits } = gpu;
  if (!features.f16) return 'the adapter has no shader-f16';
  if (!features.subgroups) return 'the adapter has no subgroups';
  if (features.subgroupMatrix.length === 0) return 'the adapter has no chromium-experimental-subgroup-matrix (Chrome offers it with --enable-unsafe-webgpu)';
  const [min, max] = features.subgroupSizes;
  if (min === 0 || min !== max) return `the subgroup size is not fixed (${min}..${max}), and the kernel's workgroup is 4 subgroups`;
  if (4 * max > limits.maxComputeInvocationsPerWorkgroup || 4 * max > limits.maxComputeWorkgroupSizeX) {
    return `a workgroup of 4 subgroups of ${max} exceeds the adapter's ${limits.maxComputeInvocationsPerWorkgroup} invocations`;
  }
  const usable = features.subgroupMatrix.filter((c) =>
    c.componentType === 'f16' && c.resultComponentType === 'f32' && SIDES.includes(c.M) && SIDES.includes(c.N) && SIDES.includes(c.K) &&
    workgroupBytes(c.M, c.N) <= limits.maxComputeWorkgroupStorageSize);
  if (usable.length === 0) {
    const offered = features.subgroupMatrix.map((c) => `${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`).join(', ');
    return `no f16 -> f32 subgroup matrix with sides of 8, 16 or 32 among ${offered}`;
  }
  const best = usable.reduce((a, b) => (b.M * b.N * b.K > a.M * a.N * a.K ? b : a));
  return { M: best.M, N: best.N, K: best.K, subgroupSize: max };
}

/** One product of the self-test: the weight's type and [out, in], the rows of A, and which product. */
interface TensorCase {
  type: GgmlType;
  out: number;
  inF: number;
  rows: number;
  product: 'forward' | 'backward';
}

/**
 * Off-tile sizes for the 64 x 64 tiles and 32-deep steps (70 rows; 40, 72 or 96 columns; K of 36, 40, 72 or 96), on a
 * K-quant, an 8-bit, a half and an f32 weight (whose row ends mid-group).
 */
export const TENSOR_CASES: TensorCase[] = [
  { type: 'Q4_K', out: 40, inF: 256, rows: 70, product: 'forward' },
  { type: 'Q4_K', out: 40, inF: 256, rows: 70, product: 'backward' },
  { type: 'Q8_0', out: 40, inF: 96, rows: 70, product: 'forward' },
  { type: 'Q8_0', out: 40, inF: 96, rows: 70, product: 'backward' },
  { type: 'F16', out: 72, inF: 64, rows: 5, product: 'forward' },
  { type: 'F32', out: 72, inF: 36, rows: 70, product: 'forward' },
  { type: 'F32', out: 72, inF: 36, rows: 70, product: 'backward' },
];

/**
 * A [rows, K] whose rows range from 1e-8 to 1e4 in magnitude (the row scaling's work) and whose third row is
 * all zeros.
 */
export function rowScaledInput(rows: number, K: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const a = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const scale = r === 2 ? 0 : 10 ** (-8 + 12 * next());
    for (let k = 0; k < K; k++) a[r * K + k] = (2 * next() - 1) * scale;
  }
  return a;
}

/** The case's worst error (see TENSOR_TOLERANCE) on this GPU, running this tensor kernel. */
export async function tensorCaseError(gpu: Gpu, c: TensorCase, tensor: TensorKernel): Promise<number> {
  const next = mulberry32(c.out * 1000 + c.inF);
  const values = Float32Array.from({ length: c.out * c.inF }, () => (2 * next() - 1) * 0.05);
  const bytes = quantize(c.type, values);
  const exact = dequantize(c.type, bytes, values.length);
  const w = uploadQuantWeight(gpu, 'tensor_self_test.w', c.type, bytes, c.out, c.inF);
  const [K, N] = c.product === 'forward' ? [c.inF, c.out] : [c.out, c.inF];
  const a = rowScaledInput(c.rows, K, K + N);
  const c0 = Float32Array.from({ length: c.rows * N }, () => 2 * next() - 1);
  const ga = gpu.upload('tensor_self_test.a', a);
  const gc = gpu.upload('tensor_self_test.c', c0);
  try {
    await gpu.submit((encoder) =>
      c.product === 'forward'
        ? quantMatmulForward(gpu, encoder, { x: ga, w, y: gc, rows: c.rows, beta: 1, tensor, label: 'tensor_self_test' })
        : quantMatmulBackward(gpu, encoder, { dy: ga, w, dx: gc, rows: c.rows, beta: 1, tensor, label: 'tensor_self_test' }));
    const got = await gpu.readF32(gc, c.rows * N);
    const reference = c.product === 'forward' ? quantMatmulForwardRef : quantMatmulBackwardRef;
    const want = reference(a, exact, c0, c.rows, c.out, c.inF, 1);
    const bound = reference(a.map(Math.abs), exact.map(Math.abs), c0.map(Math.abs), c.rows, c.out, c.inF, 1);
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      const error = Math.abs(got[i] - want[i]) / bound[i];
      worst = Number.isNaN(error) ? Infinity : Math.max(worst, error);
    }
    return worst;
  } finally {
    gpu.destroy(ga, gc, w.buffer);
  }
}

const selfTests = new WeakMap<Gpu, Promise<TensorMatmulStatus>>();

/**
 * Runs the tensor kernel's self-test on this GPU once (later calls share the answer); when every case is within
 * TENSOR_TOLERANCE, f16-precision products use the tensor cores from then on.
 */
export function verifyTensorMatmul(gpu: Gpu): Promise<TensorMatmulStatus> {
  let status = selfTests.get(gpu);
  if (!status) selfTests.set(gpu, (status = selfTest(gpu)));
  return status;
}

async function selfTest(gpu: Gpu): Promise<TensorMatmulStatus> {
  const verified = tensorMatmulShape(gpu);
  if (verified) return { shape: verified };
  const shape = chooseTensorShape(gpu);
  if (typeof shape === 'string') return { shape: null, reason: shape };
  return verifyTensorKernel(gpu, { shape, source: tensorMatmulSource(shape) });
}

/** Runs every self-test case with this kernel; if all pass, f16-precision products on this GPU use it. */
export async function verifyTensorKernel(gpu: Gpu, kernel: TensorKernel): Promise<TensorMatmulStatus> {
  const { shape } = kernel;
  const name = `${shape.M}x${shape.N}x${shape.K}`;
  for (const c of TENSOR_CASES) {
    const what = `${c.type} ${c.product} [${c.out}, ${c.inF}] x ${c.rows} rows`;
    let error: number;
    try {
      error = await tensorCaseError(gpu, c, kernel);
    } catch (e) {
      return { shape: null, reason: `the ${name} kernel failed its self-test (${what}): ${e instanceof Error ? e.message : String(e)}` };
    }
    if (!(error <= TENSOR_TOLERANCE)) {
      return { shape: null, reason: `the ${name} kernel failed its self-test: ${what} is off by ${error.toExponential(2)} (at most ${TENSOR_TOLERANCE})` };
    }
  }
  useTensorMatmul(gpu, kernel);
  return { shape };
}

/** One line for logs and benchmarks. */
export function describeTensorMatmul(status: TensorMatmulStatus): string {
  const s = status.shape;
  return s ? `tensor cores (f16 ${s.M}x${s.N}x${s.K} subgroup matrices, subgroups of ${s.subgroupSize}, self-test passed)` : `f32 tiles (${status.reason})`;
}
