// Helpers for GPU tests, which run in Chromium (WebGPU on SwiftShader, or the real GPU) and in Node (Dawn).
import { inject } from 'vitest';
import { Gpu } from './gpu';

let shared: Promise<Gpu> | null = null;

/** One device for the whole test file. */
export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.create();
  return shared;
}

/** True when MANYICL_GPU=real: tests may then use larger shapes. */
export const onRealGpu: boolean = inject('realGpu');

/** max |a - b| / max |b|: the error measure of the reference fixtures. */
export function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (Number.isNaN(diff) || !Number.isFinite(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}
