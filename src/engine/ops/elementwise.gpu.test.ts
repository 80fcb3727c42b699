import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { addInPlace, scaleInPlace } from './elementwise';

/** CPU reference: target[i] += scale * source[i] for i < count; the rest is left as it was. */
function addRef(target: Float32Array, source: Float32Array, count: number, scale: number): Float32Array {
  const out = target.slice();
  for (let i = 0; i < count; i++) out[i] = Math.fround(out[i] + scale * source[i]);
  return out;
}

function scaleRef(target: Float32Array, count: number, scale: number): Float32Array {
  const out = target.slice();
  for (let i = 0; i < count; i++) out[i] = Math.fround(out[i] * scale);
  return out;
}

// Buffers hold a few extra elements past count, which must stay untouched.
const EXTRA = 5;

describe('elementwise', () => {
  for (const count of [1, 7, 255, 256, 257, 1000, 4099]) {
    for (const scale of [1, -0.37]) {
      it(`addInPlace count=${count} scale=${scale}`, async () => {
        const gpu = await testGpu();
        const target = randomArray(count + EXTRA, count);
        const source = randomArray(count + EXTRA, count + 1);
        const [gt, gs] = [gpu.upload('target', target), gpu.upload('source', source)];
        await gpu.submit((enc) => addInPlace(gpu, enc, { target: gt, source: gs, count, scale }));
        const got = await gpu.readF32(gt, count + EXTRA);
        gpu.destroy(gt, gs);
        expect(maxRelError(got, addRef(target, source, count, scale))).toBeLessThan(1e-6);
      });
    }

    it(`scaleInPlace count=${count}`, async () => {
      const gpu = await testGpu();
      const target = randomArray(count + EXTRA, count + 2);
      const gt = gpu.upload('target', target);
      await gpu.submit((enc) => scaleInPlace(gpu, enc, { target: gt, count, scale: 0.3 }));
      const got = await gpu.readF32(gt, count + EXTRA);
      gpu.destroy(gt);
      expect(maxRelError(got, scaleRef(target, count, 0.3))).toBeLessThan(1e-6);
    });
  }

  it('addInPlace default scale, twice in one encoder', async () => {
    const gpu = await testGpu();
    const count = 300;
    const target = randomArray(count, 11);
    const source = randomArray(count, 12);
    const [gt, gs] = [gpu.upload('target', target), gpu.upload('source', source)];
    await gpu.submit((enc) => {
      addInPlace(gpu, enc, { target: gt, source: gs, count });
      addInPlace(gpu, enc, { target: gt, source: gs, count });
    });
    const got = await gpu.readF32(gt);
    gpu.destroy(gt, gs);
    expect(maxRelError(got, addRef(addRef(target, source, count, 1), source, count, 1))).toBeLessThan(1e-6);
  });

  it('addInPlace over more than 65535 workgroups (grid split over x and y)', async () => {
    const gpu = await testGpu();
    const count = 65535 * 256 + 1234;
    const target = new Float32Array(count);
    const source = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      target[i] = i % 1000;
      source[i] = (i % 7) - 3;
    }
    const [gt, gs] = [gpu.upload('target', target), gpu.upload('source', source)];
    await gpu.submit((enc) => addInPlace(gpu, enc, { target: gt, source: gs, count, scale: 2 }));
    const got = await gpu.readF32(gt);
    gpu.destroy(gt, gs);
    let wrong = 0;
    for (let i = 0; i < count; i++) if (got[i] !== target[i] + 2 * source[i]) wrong++;
    expect(wrong).toBe(0);
  });
});
