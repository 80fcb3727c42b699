import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../gpu/gpu';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { adamwStep } from './adamw';
import { adamwRef } from './adamw.reference';
import { globalGradNorm, gradNormScratchSize } from './grad_norm';
import { clipCoefficientRef, gradNormRef } from './grad_norm.reference';
import { gpuFor, REDUCTION_PATHS } from './reduce.testing';
import type { ReduceOptions } from './reduce';

/** [norm, coefficient] from the GPU. */
async function gpuNorm(gpu: Gpu, grads: Float32Array, maxNorm: number, reduce: ReduceOptions = {}): Promise<Float32Array> {
  const count = grads.length;
  const g = gpu.upload('grads', grads);
  const partials = gpu.buffer('partials', gradNormScratchSize(count));
  const out = gpu.upload('out', new Float32Array([-1, -1]));
  await gpu.submit((enc) => globalGradNorm(gpu, enc, { grads: g, count, partials, out, maxNorm, ...reduce }));
  const result = await gpu.readF32(out, 2);
  gpu.destroy(g, partials, out);
  return result;
}

/** Gradients whose magnitude varies by element, so that no summation order is accidentally exact. */
function gradients(count: number, seed: number): Float32Array {
  const g = randomArray(count, seed);
  for (let i = 0; i < count; i++) g[i] *= 1 + (i % 13) * 0.25;
  return g;
}

// 300_001 fills all 1024 partials and makes threads sum more than one element.
const counts = onRealGpu ? [1, 1000, 5003, 300_001, 40_000_003] : [1, 1000, 5003, 300_001];

describe.each(REDUCTION_PATHS)('globalGradNorm, reductions through $name', (path) => {
  for (const count of counts) {
    it(`norm of ${count} gradients matches a float64 sum`, async ({ skip }) => {
      const gpu = await gpuFor(path, skip);
      const grads = gradients(count, count);
      const [norm, coefficient] = await gpuNorm(gpu, grads, 0, path);
      expect(Math.abs(norm - gradNormRef(grads)) / gradNormRef(grads)).toBeLessThan(1e-6);
      expect(coefficient).toBe(1);
    });
  }

  it('is deterministic', async ({ skip }) => {
    const gpu = await gpuFor(path, skip);
    const grads = gradients(20_011, 9);
    const first = await gpuNorm(gpu, grads, 1, path);
    const second = await gpuNorm(gpu, grads, 1, path);
    expect(Array.from(second)).toEqual(Array.from(first));
  });
});

describe('globalGradNorm', () => {
  it('no gradients: norm 0, coefficient 1', async () => {
    const gpu = await testGpu();
    const [norm, coefficient] = await gpuNorm(gpu, new Float32Array(0), 1);
    expect(norm).toBe(0);
    expect(coefficient).toBe(1);
  });

  it('clip coefficient min(1, maxNorm / (norm + 1e-6)), and none when maxNorm <= 0 or Infinity', async () => {
    const gpu = await testGpu();
    const grads = gradients(5003, 3);
    const norm = gradNormRef(grads); // about 80
    for (const maxNorm of [1, 0.25, 50, norm * 2, 0, -1, Infinity]) {
      const [gotNorm, coefficient] = await gpuNorm(gpu, grads, maxNorm);
      expect(Math.abs(gotNorm - norm) / norm).toBeLessThan(1e-6);
      const want = clipCoefficientRef(norm, maxNorm);
      expect(Math.abs(coefficient - want) / want, `maxNorm ${maxNorm}`).toBeLessThan(1e-6);
    }
    expect(clipCoefficientRef(norm, 1)).toBeLessThan(0.1);
  });

  it('adamwStep applies the clip coefficient without a readback', async () => {
    const gpu = await testGpu();
    const count = 2051;
    const settings = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    const maxNorm = 1;
    const p0 = randomArray(count, 5);
    const params = gpu.upload('params', p0);
    const grads = gpu.buffer('grads', 4 * count);
    const [m, v] = [gpu.upload('m', new Float32Array(count)), gpu.upload('v', new Float32Array(count))];
    const partials = gpu.buffer('partials', gradNormScratchSize(count));
    const out = gpu.buffer('out', 8);
    // CPU reference in float64, torch semantics: grads *= coefficient, then AdamW.
    const ref = { p: Float64Array.from(p0), m: new Float64Array(count), v: new Float64Array(count) };
    for (let step = 1; step <= 3; step++) {
      // Larger gradients each step so that the coefficient changes.
      const g = gradients(count, 20 + step).map((x) => x * step);
      gpu.write(grads, g);
      await gpu.submit((enc) => {
        globalGradNorm(gpu, enc, { grads, count, partials, out, maxNorm });
        adamwStep(gpu, enc, { ...settings, params, grads, m, v, count, step, gradScale: out });
      });
      const coefficient = clipCoefficientRef(gradNormRef(g), maxNorm);
      expect(coefficient).toBeLessThan(0.05);
      adamwRef(ref, g, coefficient, settings, step);
    }
    const [gotP, gotM, gotV] = [await gpu.readF32(params, count), await gpu.readF32(m, count), await gpu.readF32(v, count)];
    gpu.destroy(params, grads, m, v, partials, out);
    expect(maxRelError(gotM, ref.m)).toBeLessThan(1e-5);
    expect(maxRelError(gotV, ref.v)).toBeLessThan(1e-5);
    const gotDelta = gotP.map((value, i) => value - p0[i]);
    const wantDelta = ref.p.map((value, i) => value - p0[i]);
    expect(maxRelError(gotDelta, wantDelta)).toBeLessThan(1e-4);
  });
});
