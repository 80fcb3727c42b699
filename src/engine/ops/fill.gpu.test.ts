import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { fillUniform } from './fill';
import { fillUniformRef } from './fill.reference';

describe('fillUniform', () => {
  it('fills [offset - scale, offset + scale) reproducibly, with mean near offset', async () => {
    const gpu = await testGpu();
    const count = 100_003;
    const a = gpu.buffer('a', count * 4);
    const b = gpu.buffer('b', count * 4);
    await gpu.submit((enc) => {
      fillUniform(gpu, enc, { buffer: a, count, seed: 7, scale: 0.5, offset: 2 });
      fillUniform(gpu, enc, { buffer: b, count, seed: 7, scale: 0.5, offset: 2 });
    });
    const [x, y] = [await gpu.readF32(a), await gpu.readF32(b)];
    gpu.destroy(a, b);
    expect(x).toEqual(y);
    expect(maxRelError(x, fillUniformRef(count, 7, 0.5, 2))).toBeLessThan(1e-6);
    let sum = 0;
    for (const v of x) {
      expect(v).toBeGreaterThanOrEqual(1.5);
      expect(v).toBeLessThan(2.5);
      sum += v;
    }
    expect(Math.abs(sum / count - 2)).toBeLessThan(0.01);
    expect(new Set(x).size).toBeGreaterThan(count * 0.9);
  });
});
