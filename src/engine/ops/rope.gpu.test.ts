import { describe, expect, it } from 'vitest';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { ropeInverseFrequencies } from '../rope';
import { ropeBackward, ropeForward, ropeForwardAt } from './rope';
import { ropeRef } from './rope.reference';

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

interface Shape {
  rows: number;
  seqLen: number;
  heads: number;
  headDim: number;
  invFreq: Float32Array;
  name: string;
}

const shapes: Shape[] = [
  { rows: 37, seqLen: 10, heads: 4, headDim: 16, invFreq: ropeInverseFrequencies(16, 10000, null), name: 'default' },
  { rows: 300, seqLen: 70, heads: 4, headDim: 8, invFreq: ropeInverseFrequencies(8, 500000, null), name: 'default' },
  {
    rows: 131, seqLen: 64, heads: 4, headDim: 16, name: 'llama3',
    invFreq: ropeInverseFrequencies(16, 500000, {
      type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64,
    }),
  },
  // Angles up to ~7e4 radians, as at 32k tokens: cos/sin must still be those of the f32 angle.
  { rows: 140, seqLen: 70, heads: 4, headDim: 8, invFreq: new Float32Array([1, 37.3, 512.7, 1000.1]), name: 'large angles' },
];
if (onRealGpu) {
  shapes.push({
    rows: 8192, seqLen: 4096, heads: 32, headDim: 128, name: 'llama3.1',
    invFreq: ropeInverseFrequencies(128, 500000, {
      type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192,
    }),
  });
}

describe('rope (rotate-half, in place)', () => {
  for (const { rows, seqLen, heads, headDim, invFreq, name } of shapes) {
    const tag = `rows ${rows} seqLen ${seqLen} heads ${heads} headDim ${headDim} (${name})`;

    it(`forward and backward match the CPU reference: ${tag}`, async () => {
      const gpu = await testGpu();
      const x = randomArray(rows * heads * headDim, rows + headDim);
      const [gx, gg, gf] = [gpu.upload('x', x), gpu.upload('grad', x), gpu.upload('invFreq', invFreq)];
      const args = { invFreq: gf, rows, seqLen, heads, headDim };
      await gpu.submit((enc) => {
        ropeForward(gpu, enc, { ...args, x: gx });
        ropeBackward(gpu, enc, { ...args, x: gg });
      });
      const forward = await gpu.readF32(gx, x.length);
      const backward = await gpu.readF32(gg, x.length);
      gpu.destroy(gx, gg, gf);
      expect(maxRelError(forward, ropeRef(x, invFreq, rows, seqLen, heads, headDim, 1))).toBeLessThan(2e-6);
      expect(maxRelError(backward, ropeRef(x, invFreq, rows, seqLen, heads, headDim, -1))).toBeLessThan(2e-6);
    });

    it(`forward at given positions equals the forward of those rows (generation): ${tag}`, async () => {
      const gpu = await testGpu();
      const x = randomArray(rows * heads * headDim, 3 * rows + headDim);
      const positions = Uint32Array.from({ length: rows }, (_, n) => (n * 7919) % seqLen);
      // Row n of `at` is row positions[n] of a sequence; the plain forward rotates it by that position there.
      const [gx, gp, gf] = [gpu.upload('x', x), gpu.upload('positions', positions), gpu.upload('invFreq', invFreq)];
      await gpu.submit((enc) => ropeForwardAt(gpu, enc, { x: gx, positions: gp, invFreq: gf, rows, heads, headDim }));
      const at = await gpu.readF32(gx, x.length);
      gpu.destroy(gx, gp, gf);
      const width = heads * headDim;
      const want = new Float32Array(x.length);
      positions.forEach((position, n) => {
        const sequence = new Float32Array((position + 1) * width);
        sequence.set(x.subarray(n * width, (n + 1) * width), position * width);
        want.set(ropeRef(sequence, invFreq, position + 1, seqLen, heads, headDim, 1).subarray(position * width), n * width);
      });
      expect(maxRelError(at, want)).toBeLessThan(2e-6);
    });

    it(`backward is the transpose of forward: ${tag}`, async () => {
      const gpu = await testGpu();
      const x = randomArray(rows * heads * headDim, 7 + rows);
      const y = randomArray(rows * heads * headDim, 8 + rows);
      const [gx, gy, gf] = [gpu.upload('x', x), gpu.upload('y', y), gpu.upload('invFreq', invFreq)];
      const args = { invFreq: gf, rows, seqLen, heads, headDim };
      await gpu.submit((enc) => {
        ropeForward(gpu, enc, { ...args, x: gx });
        ropeBackward(gpu, enc, { ...args, x: gy });
      });
      const rx = await gpu.readF32(gx, x.length);
      const rty = await gpu.readF32(gy, y.length);
      // <R x, y> == <x, R^T y>
      const lhs = dot(rx, y);
      const rhs = dot(x, rty);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * Math.sqrt(dot(x, x) * dot(y, y)));
      // R^T R x == x
      await gpu.submit((enc) => ropeBackward(gpu, enc, { ...args, x: gx }));
      const roundTrip = await gpu.readF32(gx, x.length);
      gpu.destroy(gx, gy, gf);
      expect(maxRelError(roundTrip, x)).toBeLessThan(2e-6);
    });
  }
});
