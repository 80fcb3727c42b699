import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/attention.wgsl?raw';
import { withReductions, type ReduceOptions } from './reduce';

/**
 * Causal attention over `batch` sequences of `seqLen` tokens (rows n = b * seqLen + t).
 * q and out are [N, heads * headDim]; k and v are [N, kvHeads * headDim]; query head h reads kv head
 * floor(h / (heads / kvHeads)). mask is u32 [N]: 1 for real tokens, 0 for padding. Query i sees key j of its
 * sequence iff j <= i, mask[j] == 1 and (window == 0 or i - j < window); scores are q.k / sqrt(headDim).
 * A query that sees no key gets output 0, lse 0 and gradient 0.
 */
export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  window: number /* 0 = none */;
}

export const MAX_HEAD_DIM = 128;

// Tile sizes of kernels/attention.wgsl.
const FORWARD_ROWS = 32;
const DQ_ROWS = 32;
const DKDV_KEYS = 16;
const DELTA_THREADS = 256;

function shapeParams(shape: AttentionShape): ArrayBuffer {
  const { batch, seqLen, heads, kvHeads, headDim, window } = shape;
  for (const [name, value] of Object.entries({ batch, seqLen, heads, kvHeads, headDim, window })) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`attention: ${name} must be a non-negative integer`);
  }
  if (kvHeads < 1 || heads % kvHeads !== 0) throw new Error(`attention: heads ${heads} not a multiple of kvHeads ${kvHeads}`);
  if (headDim < 4 || headDim > MAX_HEAD_DIM || headDim % 4 !== 0) {
    throw new Error(`attention: headDim ${headDim} must be a multiple of 4 from 4 to ${MAX_HEAD_DIM}`);
  }
  const params = new ArrayBuffer(32);
  new Uint32Array(params).set([batch, seqLen, heads, kvHeads, headDim, window]);
  new Float32Array(params)[6] = Math.LOG2E / Math.sqrt(headDim);
  return params;
}

/** out = softmax(q k^T * scale + mask) v per head; lse is f32 [N * heads], row-major [n][h]. */
export function attentionForward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: AttentionShape & {
    q: GPUBuffer;
    k: GPUBuffer;
    v: GPUBuffer;
    mask: GPUBuffer;
    out: GPUBuffer;
    /** f32 [N * heads], [n][h]: logsumexp of the scaled scores of query row n, head h. */
    lse: GPUBuffer;
    label?: string;
  } & ReduceOptions,
): void {
  const params = shapeParams(args);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source, args), 'forward'),
    buffers: [args.q, args.k, args.v, args.mask, args.out, args.lse],
    params,
    workgroups: [Math.ceil(args.seqLen / FORWARD_ROWS), args.heads, args.batch],
    label: args.label ?? 'attention.forward',
  });
}

/**
 * Gradients of attentionForward: dq, dk and dv are overwritten. dk/dv of a kv head sum over its query heads.
 * Three kernels: delta (which also parks (lse, delta) pairs in dq), dk/dv per key tile, then dq per query tile.
 */
export function attentionBackward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: AttentionShape & {
    q: GPUBuffer;
    k: GPUBuffer;
    v: GPUBuffer;
    mask: GPUBuffer;
    out: GPUBuffer;
    lse: GPUBuffer;
    dOut: GPUBuffer;
    dq: GPUBuffer;
    dk: GPUBuffer;
    dv: GPUBuffer;
    /** Scratch f32 [N * heads]: rowsum(dOut * out). */
    delta: GPUBuffer;
    label?: string;
  } & ReduceOptions,
): void {
  const code = withReductions(gpu, source, args);
  const params = shapeParams(args);
  const label = args.label ?? 'attention.backward';
  const rowHeads = args.batch * args.seqLen * args.heads;
  const deltaGroups = Math.ceil(rowHeads / DELTA_THREADS);
  const deltaGroupsX = Math.min(deltaGroups, gpu.limits.maxComputeWorkgroupsPerDimension);
  // The dq buffer holds vec2 (lse * log2 e, delta) per (row, head) until backward_dq overwrites it.
  gpu.run(encoder, {
    pipeline: gpu.pipeline(code, 'backward_delta'),
    buffers: [args.out, args.dOut, args.lse, args.delta, args.dq],
    params,
    workgroups: [deltaGroupsX, Math.ceil(deltaGroups / Math.max(deltaGroupsX, 1))],
    label: `${label}.delta`,
  });
  gpu.run(encoder, {
    pipeline: gpu.pipeline(code, 'backward_dkdv'),
    buffers: [args.q, args.k, args.v, args.mask, args.dq, args.dOut, args.dk, args.dv],
    params,
    workgroups: [Math.ceil(args.seqLen / DKDV_KEYS), args.kvHeads, args.batch],
    label: `${label}.dkdv`,
  });
  gpu.run(encoder, {
    pipeline: gpu.pipeline(code, 'backward_dq'),
    buffers: [args.q, args.k, args.v, args.mask, args.lse, args.dOut, args.delta, args.dq],
    params,
    workgroups: [Math.ceil(args.seqLen / DQ_ROWS), args.heads, args.batch],
    label: `${label}.dq`,
  });
}
