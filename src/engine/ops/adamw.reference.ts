// CPU reference of kernels/adamw.wgsl, shared by its test and the kernel benchmark.
import type { AdamWSettings } from './adamw';

/** Float64 state of the CPU reference. */
export interface AdamWRefState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/** One torch.optim.AdamW step in float64; `scale` multiplies the gradients first. */
export function adamwRef(state: AdamWRefState, grads: ArrayLike<number>, scale: number, s: AdamWSettings, step: number): void {
  const bc1 = 1 - s.beta1 ** step;
  const bc2 = 1 - s.beta2 ** step;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i] * scale;
    state.p[i] *= 1 - s.lr * s.weightDecay;
    state.m[i] = s.beta1 * state.m[i] + (1 - s.beta1) * g;
    state.v[i] = s.beta2 * state.v[i] + (1 - s.beta2) * g * g;
    const denom = Math.sqrt(state.v[i]) / Math.sqrt(bc2) + s.eps;
    state.p[i] -= (s.lr / bc1) * (state.m[i] / denom);
  }
}
