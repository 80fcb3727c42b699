import type { Gpu } from '../../gpu/gpu';
import { workgroupsFor } from './dispatch';
import source from '../../../kernels/adamw.wgsl?raw';

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWArgs extends AdamWSettings {
  /** f32 [count]: all trainable parameters, updated in place. */
  params: GPUBuffer;
  /** f32 [count]: their gradients (read only). */
  grads: GPUBuffer;
  /** f32 [count]: first and second moments, zero before step 1, updated in place. */
  m: GPUBuffer;
  v: GPUBuffer;
  count: number;
  /** 1 for the first step. */
  step: number;
  /** f32 [2]: element [1] multiplies every gradient before use (the clip coefficient from globalGradNorm). */
  gradScale: GPUBuffer;
  label?: string;
}

const WORKGROUP = 256;

/** One torch.optim.AdamW step over `count` elements of flat buffers. */
export function adamwStep(gpu: Gpu, encoder: GPUCommandEncoder, args: AdamWArgs): void {
  const { lr, beta1, beta2, eps, weightDecay, count, step } = args;
  if (!Number.isInteger(step) || step < 1) throw new Error(`AdamW step must be an integer >= 1, got ${step}`);
  const params = new ArrayBuffer(32);
  new Uint32Array(params, 0, 1)[0] = count;
  new Float32Array(params, 4, 7).set([
    1 - lr * weightDecay,
    1 - beta1,
    beta2,
    1 - beta2,
    eps,
    lr / (1 - beta1 ** step),
    Math.sqrt(1 - beta2 ** step),
  ]);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source),
    buffers: [args.params, args.grads, args.m, args.v, args.gradScale],
    params,
    workgroups: workgroupsFor(gpu, count, WORKGROUP),
    label: args.label ?? 'adamw',
  });
}
