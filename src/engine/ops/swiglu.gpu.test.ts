import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { swigluBackward, swigluForward } from './swiglu';
import { silu, siluGrad, swigluBackwardRef, swigluForwardRef } from './swiglu.reference';

/** Largest |actual - expected| / (1 + |expected|): per element, so small values cannot hide behind big ones. */
function maxMixedError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i]));
    worst = Number.isFinite(err) ? Math.max(worst, err) : Infinity;
  }
  return worst;
}

async function runSwiglu(gate: Float32Array, up: Float32Array, dOut: Float32Array) {
  const gpu = await testGpu();
  const count = gate.length;
  const buffers = {
    gate: gpu.upload('gate', gate),
    up: gpu.upload('up', up),
    dOut: gpu.upload('dOut', dOut),
    out: gpu.buffer('out', count * 4),
  };
  const { gate: g, up: u, dOut: d, out } = buffers;
  await gpu.submit((enc) => swigluForward(gpu, enc, { gate: g, up: u, out, count }));
  const forwardOut = await gpu.readF32(out, count);
  // The backward writes dGate over gate and dUp over up.
  await gpu.submit((enc) => swigluBackward(gpu, enc, { dOut: d, gate: g, up: u, count }));
  const result = {
    out: forwardOut,
    dGate: await gpu.readF32(g, count),
    dUp: await gpu.readF32(u, count),
  };
  gpu.destroy(...Object.values(buffers));
  return result;
}

describe('swiglu', () => {
  it('reference derivative matches finite differences', () => {
    for (const g of [-30, -5, -1.3, -0.2, 0, 0.4, 2.2, 7, 25]) {
      const h = 1e-5;
      expect(Math.abs((silu(g + h) - silu(g - h)) / (2 * h) - siluGrad(g))).toBeLessThan(1e-8);
    }
  });

  for (const count of [1, 3, 255, 256, 257, 1000, 3333]) {
    it(`forward and backward, count=${count}`, async () => {
      const gate = randomArray(count, 10 + count, 6);
      const up = randomArray(count, 20 + count, 2);
      const dOut = randomArray(count, 30 + count);
      const got = await runSwiglu(gate, up, dOut);
      const want = swigluBackwardRef(dOut, gate, up);
      expect(maxRelError(got.out, swigluForwardRef(gate, up))).toBeLessThan(1e-5);
      expect(maxRelError(got.dGate, want.dGate)).toBeLessThan(1e-5);
      expect(maxRelError(got.dUp, want.dUp)).toBeLessThan(1e-5);
    });
  }

  it('stays finite and exact for large |gate|', async () => {
    const gate = Float32Array.from([-1e4, -1000, -100, -88.5, -20, -1e-3, 0, 1e-3, 20, 88.5, 100, 1000, 1e4]);
    const up = Float32Array.from(gate, (_, i) => (i % 2 === 0 ? 1.5 : -0.75));
    const dOut = Float32Array.from(gate, (_, i) => (i % 3) - 1.25);
    const got = await runSwiglu(gate, up, dOut);
    const want = swigluBackwardRef(dOut, gate, up);
    for (const values of [got.out, got.dGate, got.dUp]) expect(values.every(Number.isFinite)).toBe(true);
    expect(maxMixedError(got.out, swigluForwardRef(gate, up))).toBeLessThan(1e-6);
    expect(maxMixedError(got.dGate, want.dGate)).toBeLessThan(1e-6);
    expect(maxMixedError(got.dUp, want.dUp)).toBeLessThan(1e-6);
  });
});
