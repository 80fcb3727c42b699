import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/grad_norm.wgsl?raw';
import { withReductions, type ReduceOptions } from './reduce';

export interface GradNormArgs extends ReduceOptions {
  /** f32 [count]: all gradients, one flat buffer. */
  grads: GPUBuffer;
  count: number;
  /** Scratch of gradNormScratchSize(count) bytes. */
  partials: GPUBuffer;
  /** f32 [2]: out[0] = L2 norm of grads[0..count), out[1] = clip coefficient (read by adamwStep). */
  out: GPUBuffer;
  /** <= 0 or Infinity: no clipping, coefficient 1. */
  maxNorm: number;
  label?: string;
}

const WORKGROUP = 256;
/** The finishing pass sums the partials with one workgroup: at most 4 per thread. */
const MAX_PARTIALS = 4 * WORKGROUP;

/** Workgroups of the first pass, each writing one partial sum: beyond MAX_PARTIALS, threads loop. */
function partialCount(count: number): number {
  return Math.min(MAX_PARTIALS, Math.max(1, Math.ceil(count / WORKGROUP)));
}

/** Bytes of the `partials` scratch buffer globalGradNorm needs for `count` gradients. */
export function gradNormScratchSize(count: number): number {
  return 4 * partialCount(count);
}

/** L2 norm of the gradients and the clip_grad_norm_ coefficient min(1, maxNorm / (norm + 1e-6)), on the GPU. */
export function globalGradNorm(gpu: Gpu, encoder: GPUCommandEncoder, args: GradNormArgs): void {
  const { count, maxNorm } = args;
  const numPartials = partialCount(count);
  if (args.partials.size < 4 * numPartials) {
    throw new Error(`grad norm scratch holds ${args.partials.size} bytes, needs ${gradNormScratchSize(count)}`);
  }
  const clip = maxNorm > 0 && Number.isFinite(maxNorm);
  const params = new ArrayBuffer(16);
  new Uint32Array(params, 0, 3).set([count, numPartials, clip ? 1 : 0]);
  new Float32Array(params, 12, 1)[0] = clip ? maxNorm : 0;
  const label = args.label ?? 'grad_norm';
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source, args), 'partial_sums'),
    buffers: [args.grads, args.partials],
    params,
    workgroups: [numPartials],
    label: `${label}.partials`,
  });
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source, args), 'finish'),
    buffers: [args.partials, args.out],
    params,
    workgroups: [1],
    label: `${label}.finish`,
  });
}
