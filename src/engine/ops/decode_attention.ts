import type { Gpu } from '../../gpu/gpu';
import { workgroupsFor } from './dispatch';
import source from '../../../kernels/decode_attention.wgsl?raw';
import { MAX_HEAD_DIM } from './attention';

/**
 * One layer's KV cache: k and v as f32 [batch, capacity, kvHeads * headDim], after RoPE. Sequence b's new token
 * sits at positions[b] (u32 [batch]); keys 0..positions[b] of sequence b are valid once appendKv has run.
 */
export interface DecodeShape {
  batch: number;
  capacity: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  window: number /* 0 = none */;
}

function params(shape: DecodeShape): ArrayBuffer {
  const { batch, capacity, heads, kvHeads, headDim, window } = shape;
  for (const [name, value] of Object.entries({ batch, capacity, heads, kvHeads, headDim, window })) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`decode attention: ${name} must be a non-negative integer`);
  }
  if (kvHeads < 1 || heads % kvHeads !== 0) throw new Error(`decode attention: heads ${heads} not a multiple of kvHeads ${kvHeads}`);
  if (headDim < 1 || headDim > MAX_HEAD_DIM) throw new Error(`decode attention: headDim ${headDim} must be 1 to ${MAX_HEAD_DIM}`);
  const buffer = new ArrayBuffer(32);
  new Uint32Array(buffer).set([batch, capacity, heads, kvHeads, headDim, window]);
  new Float32Array(buffer)[6] = 1 / Math.sqrt(headDim);
  return buffer;
}

/** Writes the new rows k, v [batch, kvHeads * headDim] into the cache at each sequence's position. */
export function appendKv(
  gpu: Gpu, encoder: GPUCommandEncoder,
  args: DecodeShape & { k: GPUBuffer; v: GPUBuffer; positions: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; label?: string },
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'append_kv'),
    buffers: [args.k, args.v, args.positions, args.kCache, args.vCache],
    params: params(args),
    workgroups: workgroupsFor(gpu, args.batch * args.kvHeads * args.headDim, 256),
    label: args.label ?? 'decode.append_kv',
  });
}

/** Bytes of the score scratch attendCache needs: f32 [batch, heads, capacity]. */
export function decodeScoresBytes(shape: Pick<DecodeShape, 'batch' | 'heads' | 'capacity'>): number {
  return shape.batch * shape.heads * shape.capacity * 4;
}

/**
 * out [batch, heads * headDim] = softmax(q k^T / sqrt(headDim)) v over each sequence's cached keys
 * 0..positions[b] (the last `window` of them with a sliding window); q is [batch, heads * headDim], after RoPE.
 */
export function attendCache(
  gpu: Gpu, encoder: GPUCommandEncoder,
  args: DecodeShape & { q: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; positions: GPUBuffer; scores: GPUBuffer; out: GPUBuffer; label?: string },
): void {
  const shapeParams = params(args);
  if (args.scores.size < decodeScoresBytes(args)) throw new Error(`decode attention: the score scratch needs ${decodeScoresBytes(args)} bytes`);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'attend'),
    buffers: [args.q, args.kCache, args.vCache, args.positions, args.scores, args.out],
    params: shapeParams,
    workgroups: [args.heads, args.batch],
    label: args.label ?? 'decode.attend',
  });
}
