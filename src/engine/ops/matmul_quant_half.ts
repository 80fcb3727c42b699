// The half-precision paths of matmul_quant: tensor cores (kernels/matmul_quant_tensor.wgsl) and f16 arithmetic
// (kernels/matmul_quant_f16.wgsl). Which one this GPU can run, and the self-test against the CPU reference that
// must pass on it before any product uses it.
import type { Gpu } from '../../gpu/gpu';
import { GGML_TYPES, type GgmlType, dequantize, quantize } from '../ggml';
import { mulberry32 } from '../../util/random';
import {
  type HalfKernel, type TensorShape, f16MatmulSource, halfKernel, halfPipeline, quantMatmulBackward, quantMatmulForward, tensorMatmulSource,
  uploadQuantWeight, useHalfKernel,
} from './matmul_quant';
import { quantMatmulBackwardRef, quantMatmulForwardRef } from './matmul_quant.reference';

/** The half-precision kernel f16 products use on this GPU (null: f32 tiles), and why no faster one. */
export interface HalfMatmulStatus {
  kind: HalfKernel['kind'] | null;
  shape: TensorShape | null;
  /** Why the kinds faster than the one in use are not used. */
  reasons: string[];
}

/**
 * Largest |error| of an output over the sum of |products| (and |beta c0|) that makes it. Rounding both operands
 * to f16 costs at most 2^-10 of that, and f16 sums of 4 products 2^-9 more; the rest is room for f32 sums.
 */
export const HALF_TOLERANCE: Record<HalfKernel['kind'], number> = { tensor: 2e-3, f16: 4e-3 };

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

/** One product of the self-test: the weight's type and [out, in], the rows of A, which product, and beta. */
interface HalfCase {
  type: GgmlType;
  out: number;
  inF: number;
  rows: number;
  product: 'forward' | 'backward';
  /** 1 adds to C. Most cases overwrite it: a sum into C's values would hide the errors of the small rows. */
  beta: 0 | 1;
}

/**
 * Off-tile sizes for the 64 x 64 tiles and 32-deep steps (70 rows; 40, 72 or 96 columns; K of 36, 40, 72 or 96), on a
 * K-quant, an 8-bit, a half and an f32 weight (whose row ends mid-group).
 */
export const HALF_CASES: HalfCase[] = [
  { type: 'Q4_K', out: 40, inF: 256, rows: 70, product: 'forward', beta: 0 },
  { type: 'Q4_K', out: 40, inF: 256, rows: 70, product: 'backward', beta: 0 },
  { type: 'Q8_0', out: 40, inF: 96, rows: 70, product: 'forward', beta: 0 },
  { type: 'Q8_0', out: 40, inF: 96, rows: 70, product: 'backward', beta: 0 },
  { type: 'F16', out: 72, inF: 64, rows: 5, product: 'forward', beta: 1 },
  { type: 'F32', out: 72, inF: 36, rows: 70, product: 'forward', beta: 0 },
  { type: 'F32', out: 72, inF: 36, rows: 70, product: 'backward', beta: 0 },
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

/** The case's worst error (see HALF_TOLERANCE) on this GPU, running this kernel. */
export async function halfCaseError(gpu: Gpu, c: HalfCase, half: HalfKernel): Promise<number> {
  const next = mulberry32(c.out * 1000 + c.inF);
  const values = Float32Array.from({ length: c.out * c.inF }, () => (2 * next() - 1) * 0.05);
  const bytes = quantize(c.type, values);
  const exact = dequantize(c.type, bytes, values.length);
  const w = uploadQuantWeight(gpu, 'half_self_test.w', c.type, bytes, c.out, c.inF);
  const [K, N] = c.product === 'forward' ? [c.inF, c.out] : [c.out, c.inF];
  const a = rowScaledInput(c.rows, K, K + N);
  const c0 = Float32Array.from({ length: c.rows * N }, () => 2 * next() - 1);
  const ga = gpu.upload('half_self_test.a', a);
  const gc = gpu.upload('half_self_test.c', c0);
  try {
    await gpu.submit((encoder) =>
      c.product === 'forward'
        ? quantMatmulForward(gpu, encoder, { x: ga, w, y: gc, rows: c.rows, beta: c.beta, half, label: 'half_self_test' })
        : quantMatmulBackward(gpu, encoder, { dy: ga, w, dx: gc, rows: c.rows, beta: c.beta, half, label: 'half_self_test' }));
    const got = await gpu.readF32(gc, c.rows * N);
    const reference = c.product === 'forward' ? quantMatmulForwardRef : quantMatmulBackwardRef;
    const want = reference(a, exact, c0, c.rows, c.out, c.inF, c.beta);
    const bound = reference(a.map(Math.abs), exact.map(Math.abs), c0.map(Math.abs), c.rows, c.out, c.inF, c.beta);
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      // The zero row's outputs must be exactly 0.
      const error = bound[i] === 0 ? (got[i] === want[i] ? 0 : Infinity) : Math.abs(got[i] - want[i]) / bound[i];
      worst = Number.isNaN(error) ? Infinity : Math.max(worst, error);
    }
    return worst;
  } finally {
    gpu.destroy(ga, gc, w.buffer);
  }
}

const selfTests = new WeakMap<Gpu, Promise<HalfMatmulStatus>>();

/**
 * Runs the self-tests on this GPU once (later calls share the answer): the tensor cores where the adapter has
 * them, else (or if they fail) f16 arithmetic where it has shader-f16. From then on f16-precision products use
 * the first kernel whose every case was within its HALF_TOLERANCE.
 */
export function verifyHalfMatmul(gpu: Gpu): Promise<HalfMatmulStatus> {
  let status = selfTests.get(gpu);
  if (!status) selfTests.set(gpu, (status = selfTest(gpu)));
  return status;
}

async function selfTest(gpu: Gpu): Promise<HalfMatmulStatus> {
  const verified = halfKernel(gpu);
  if (verified) return { kind: verified.kind, shape: verified.kind === 'tensor' ? verified.shape : null, reasons: [] };
  const reasons: string[] = [];
  const shape = chooseTensorShape(gpu);
  if (typeof shape === 'string') reasons.push(`no tensor cores: ${shape}`);
  else {
    const failure = await verifyHalfKernel(gpu, { kind: 'tensor', shape, source: tensorMatmulSource(shape) });
    if (failure === null) return { kind: 'tensor', shape, reasons };
    reasons.push(failure);
  }
  if (!gpu.features.f16) {
    reasons.push('no f16 arithmetic: the adapter has no shader-f16');
    return { kind: null, shape: null, reasons };
  }
  const failure = await verifyHalfKernel(gpu, { kind: 'f16', source: f16MatmulSource() });
  if (failure === null) return { kind: 'f16', shape: null, reasons };
  reasons.push(failure);
  return { kind: null, shape: null, reasons };
}

/**
 * Runs every self-test case with this kernel and builds its pipeline for each weight type (default: all) and
 * product, all under error scopes: null if everything passed (f16 products on this GPU then use it), else why not.
 */
export async function verifyHalfKernel(gpu: Gpu, kernel: HalfKernel, types: readonly GgmlType[] = GGML_TYPES): Promise<string | null> {
  const name = kernel.kind === 'tensor' ? `the ${kernel.shape.M}x${kernel.shape.N}x${kernel.shape.K} tensor kernel` : 'the f16 kernel';
  const tolerance = HALF_TOLERANCE[kernel.kind];
  const { device } = gpu;
  device.pushErrorScope('internal');
  device.pushErrorScope('validation');
  let failure: string | null = null;
  try {
    for (const c of HALF_CASES) {
      const what = `${c.type} ${c.product} [${c.out}, ${c.inF}] x ${c.rows} rows`;
      const error = await halfCaseError(gpu, c, kernel);
      if (!(error <= tolerance)) {
        failure = `${name} failed its self-test: ${what} is off by ${error.toExponential(2)} (at most ${tolerance})`;
        break;
      }
    }
    // Every pipeline a model may need, compiled now: a type the cases did not build must not fail mid-run.
    if (failure === null) for (const type of types) {
      for (const entry of ['forward', 'backward'] as const) {
        for (const rowGroups of kernel.kind === 'f16' ? [1, 4] as const : [4] as const) halfPipeline(gpu, kernel, type, entry, rowGroups);
      }
    }
  } catch (e) {
    failure ??= `${name} failed its self-test: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    const validation = await device.popErrorScope();
    const internal = await device.popErrorScope();
    const error = validation ?? internal;
    if (error) failure = `${name} does not compile or run here: ${error.message.split('\n')[0]}`;
  }
  if (failure !== null) return failure;
  useHalfKernel(gpu, kernel);
  return null;
}

/** One line for logs and benchmarks. */
export function describeHalfMatmul(status: HalfMatmulStatus): string {
  const why = status.reasons.length ? ` (${status.reasons.join('; ')})` : '';
  const s = status.shape;
  if (status.kind === 'tensor' && s) return `tensor cores (f16 ${s.M}x${s.N}x${s.K} subgroup matrices, subgroups of ${s.subgroupSize}, self-test passed)`;
  if (status.kind === 'f16') return `f16 tiles (self-test passed)${why}`;
  return `f32 tiles${why}`;
}
