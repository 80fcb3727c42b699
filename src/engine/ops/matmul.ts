import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/matmul.wgsl?raw';
import { workgroupsFor } from './dispatch';

export interface MatmulArgs {
  /** op(A) is M x K: A is stored row-major as [M, K], or as [K, M] when transA. */
  a: GPUBuffer;
  /** op(B) is K x N: B is stored row-major as [K, N], or as [N, K] when transB. */
  b: GPUBuffer;
  /** C is stored row-major as [M, N]. */
  c: GPUBuffer;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** Row strides (elements) of the stored matrices; default: packed. */
  lda?: number;
  ldb?: number;
  ldc?: number;
  /** Element offsets of the first matrix in each buffer. */
  aOffset?: number;
  bOffset?: number;
  cOffset?: number;
  /** Batched product: `batch` matrices, each this many elements after the previous. */
  batch?: number;
  aBatchStride?: number;
  bBatchStride?: number;
  cBatchStride?: number;
  alpha?: number;
  /** 0 overwrites C; 1 accumulates into it. */
  beta?: number;
  label?: string;
}

const TILE = 64;
/** At or below this many rows or columns of C, the untiled kernel is faster. */
export const SKINNY = 16;

export type MatmulKernel = 'skinny' | 'tiled' | 'tiled_vec4';

/**
 * Whether a stored operand can be read as vec4s: rows (stored [rows, cols], leading dimension ld) start on
 * 16-byte boundaries in every batch, and the buffer holds the vec4 that ends each row.
 */
function vec4Readable(buffer: GPUBuffer, rows: number, cols: number, ld: number, offset: number, batch: number, batchStride: number): boolean {
  if (ld % 4 !== 0 || offset % 4 !== 0 || (batch > 1 && batchStride % 4 !== 0)) return false;
  const end = offset + (batch - 1) * batchStride + (rows - 1) * ld + Math.ceil(cols / 4) * 4;
  return buffer.size >= 4 * end;
}

/** The kernel matmul runs for these arguments. */
export function matmulKernel(args: MatmulArgs): MatmulKernel {
  const { M, N, K, transA = false, transB = false } = args;
  if (Math.min(M, N) <= SKINNY) return 'skinny';
  const lda = args.lda ?? (transA ? M : K);
  const ldb = args.ldb ?? (transB ? K : N);
  const batch = args.batch ?? 1;
  const aOk = vec4Readable(args.a, transA ? K : M, transA ? M : K, lda, args.aOffset ?? 0, batch, args.aBatchStride ?? 0);
  const bOk = vec4Readable(args.b, transB ? N : K, transB ? K : N, ldb, args.bOffset ?? 0, batch, args.bBatchStride ?? 0);
  return aOk && bOk ? 'tiled_vec4' : 'tiled';
}

/** C = alpha * op(A) op(B) + beta * C in f32. */
export function matmul(gpu: Gpu, encoder: GPUCommandEncoder, args: MatmulArgs): void {
  const { M, N, K, transA = false, transB = false } = args;
  const lda = args.lda ?? (transA ? M : K);
  const ldb = args.ldb ?? (transB ? K : N);
  const params = new ArrayBuffer(72);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u.set([M, N, K, 0]);
  u.set(transA ? [1, lda] : [lda, 1], 4);
  u.set([args.aBatchStride ?? 0, args.aOffset ?? 0], 6);
  u.set(transB ? [1, ldb] : [ldb, 1], 8);
  u.set([args.bBatchStride ?? 0, args.bOffset ?? 0], 10);
  u.set([args.ldc ?? N, args.cBatchStride ?? 0, args.cOffset ?? 0, 0], 12);
  f[16] = args.alpha ?? 1;
  f[17] = args.beta ?? 0;
  const label = args.label ?? 'matmul';
  const kernel = matmulKernel(args);
  if (kernel === 'skinny') {
    const [x, y] = workgroupsFor(gpu, M * N, 64);
    gpu.run(encoder, { pipeline: gpu.pipeline(source, 'skinny'), buffers: [args.a, args.b, args.c], params, workgroups: [x, y, args.batch ?? 1], label });
    return;
  }
  const pipeline =
    kernel === 'tiled_vec4'
      ? gpu.pipeline(source, 'main_vec4', { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 })
      : gpu.pipeline(source);
  gpu.run(encoder, {
    pipeline,
    buffers: [args.a, args.b, args.c],
    params,
    workgroups: [Math.ceil(N / TILE), Math.ceil(M / TILE), args.batch ?? 1],
    label,
  });
}
