import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../gpu/gpu';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { adamwStep, type AdamWSettings } from './adamw';
import { type AdamWRefState, adamwRef } from './adamw.reference';

/** Runs `steps` AdamW steps on the GPU and on the CPU from the same start, and compares them. */
async function compareSteps(gpu: Gpu, count: number, steps: number, settings: AdamWSettings, scale: number): Promise<void> {
  const p0 = randomArray(count, count);
  const state: AdamWRefState = { p: Float64Array.from(p0), m: new Float64Array(count), v: new Float64Array(count) };
  const params = gpu.upload('params', p0);
  const m = gpu.upload('m', new Float32Array(count));
  const v = gpu.upload('v', new Float32Array(count));
  const grads = gpu.buffer('grads', 4 * count);
  // Element [0] is not the scale: a kernel reading it would fail.
  const gradScale = gpu.upload('gradScale', new Float32Array([7, scale]));
  for (let step = 1; step <= steps; step++) {
    // Gradients of varied magnitude per element, new every step.
    const g = randomArray(count, 100 * step + count, 0.5);
    for (let i = 0; i < count; i++) g[i] *= 1 + (i % 7);
    gpu.write(grads, g);
    await gpu.submit((enc) => adamwStep(gpu, enc, { ...settings, params, grads, m, v, count, step, gradScale }));
    adamwRef(state, g, Math.fround(scale), settings, step);
  }
  const [gotP, gotM, gotV] = [await gpu.readF32(params, count), await gpu.readF32(m, count), await gpu.readF32(v, count)];
  gpu.destroy(params, m, v, grads, gradScale);
  expect(maxRelError(gotM, state.m)).toBeLessThan(1e-5);
  expect(maxRelError(gotV, state.v)).toBeLessThan(1e-5);
  // Compare the change of the parameters, not only their values, which are dominated by p0.
  const gotDelta = gotP.map((value, i) => value - p0[i]);
  const wantDelta = state.p.map((value, i) => value - p0[i]);
  expect(maxRelError(gotDelta, wantDelta)).toBeLessThan(1e-4);
  expect(maxRelError(gotP, state.p)).toBeLessThan(1e-6);
}

describe('adamw', () => {
  it('5 steps with weight decay, count not a multiple of the workgroup', async () => {
    const gpu = await testGpu();
    await compareSteps(gpu, 1037, 5, { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }, 1);
  });

  it('gradients scaled by gradScale[1], no weight decay, other betas', async () => {
    const gpu = await testGpu();
    await compareSteps(gpu, 300, 4, { lr: 1e-2, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0 }, 0.37);
  });

  it('a large eps dominates the denominator', async () => {
    const gpu = await testGpu();
    await compareSteps(gpu, 77, 3, { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 0.5, weightDecay: 0.01 }, 1);
  });

  it.runIf(onRealGpu)('tens of millions of elements (workgroups split over x and y)', async () => {
    const gpu = await testGpu();
    await compareSteps(gpu, 20_000_003, 2, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, 1);
  });
});
