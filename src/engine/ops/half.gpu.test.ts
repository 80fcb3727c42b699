import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { packF16, packedF16Bytes, unpackF16 } from './half';
import { F16_MAX, f16FromBits, f16Spacing, halfRoundTripRef } from './half.reference';

/** Values over f16's whole range: random normals scaled by 2^-20 .. 2^17 (past the max), zeros, signs. */
function testValues(count: number, seed: number): Float32Array {
  const base = randomArray(count, seed, 1);
  const scales = randomArray(count, seed + 1, 1);
  return Float32Array.from(base, (v, i) => (i % 17 === 5 ? 0 : v * 2 ** Math.round(scales[i] * 18 - 2)));
}

describe('half (f16 pairs in u32 words)', () => {
  for (const count of [1, 2, 3, 513, 20_001]) {
    it(`pack rounds x in place and unpack gives the same values back, count=${count}`, async () => {
      const gpu = await testGpu();
      const values = testValues(count, count);
      const x = gpu.upload('x', values);
      const packed = gpu.buffer('packed', packedF16Bytes(count));
      const back = gpu.buffer('back', count * 4);
      try {
        await gpu.submit((enc) => {
          packF16(gpu, enc, { x, packed, count });
          unpackF16(gpu, enc, { x: back, packed, count });
        });
        const rounded = await gpu.readF32(x, count);
        const unpacked = await gpu.readF32(back, count);
        const words = new Uint32Array((await gpu.readF32(packed)).buffer);
        const want = halfRoundTripRef(values);
        const wrong: string[] = [];
        for (let i = 0; i < count; i++) {
          // WGSL may round to either neighbour, so allow one f16 step from round-to-nearest-even.
          const word = words[i >> 1];
          const inWord = f16FromBits(i % 2 === 0 ? word & 0xffff : word >>> 16);
          if (Math.abs(rounded[i] - want[i]) > f16Spacing(values[i]) || inWord !== rounded[i] || Math.abs(rounded[i]) > F16_MAX) {
            wrong.push(`element ${i}: ${values[i]} -> ${rounded[i]} (half ${inWord} of word ${i >> 1}), nearest f16 ${want[i]}`);
          }
        }
        expect(wrong.slice(0, 5)).toEqual([]);
        expect(unpacked).toEqual(rounded);
        if (count % 2 === 1) expect(words[count >> 1] >>> 16).toBe(0);
        // Round-to-nearest: at most half a step from the input, except where clamped.
        let within = 0;
        for (let i = 0; i < count; i++) if (Math.abs(values[i]) > F16_MAX || Math.abs(rounded[i] - values[i]) <= f16Spacing(values[i]) / 2) within++;
        expect(within / count).toBeGreaterThan(0.99);
      } finally {
        gpu.destroy(x, packed, back);
      }
    });
  }
});
