import { describe, expect, it } from 'vitest';
import { argmax, sampleRow, sampler } from './generate';

describe('sampling', () => {
  const logits = Float32Array.from([1, 3, 3, -2, 0.5]);

  it('greedy takes the first of the highest logits, per sequence', () => {
    expect(argmax(logits)).toBe(1);
    expect(sampler({})(Float32Array.from([0, 1, 5, 2, 9, 9]), 2)).toEqual([2, 1]);
  });

  it('top-k 1 is greedy at any temperature; u picks along the sorted cumulative mass', () => {
    for (const u of [0, 0.5, 0.999]) expect(sampleRow(logits, 2, 1, 1, u)).toBe(1);
    // softmax over [3, 3, 1, 0.5, -2] at T = 1: the two 3s hold 2e^3 / (2e^3 + e + e^0.5 + e^-2) = 0.8535...
    const total = 2 * Math.exp(3) + Math.exp(1) + Math.exp(0.5) + Math.exp(-2);
    const first = Math.exp(3) / total;
    expect(sampleRow(logits, 1, 0, 1, first - 1e-6)).toBe(1);
    expect(sampleRow(logits, 1, 0, 1, first + 1e-6)).toBe(2);
    expect(sampleRow(logits, 1, 0, 1, (2 * Math.exp(3) + Math.exp(1)) / total + 1e-6)).toBe(4);
    expect(sampleRow(logits, 1, 0, 1, 0.999999)).toBe(3);
  });

  it('top-p keeps the smallest head of the distribution reaching p, renormalised', () => {
    // p = 0.5: the first token alone holds 0.4268 < 0.5, the first two 0.8535 >= 0.5: {1, 2}, each 1/2.
    expect(sampleRow(logits, 1, 0, 0.5, 0.49)).toBe(1);
    expect(sampleRow(logits, 1, 0, 0.5, 0.51)).toBe(2);
    expect(sampleRow(logits, 1, 0, 0.5, 0.999)).toBe(2);
  });

  it('is reproducible from its seed', () => {
    const many = new Float32Array(50).map((_, i) => Math.sin(i));
    const draw = (seed: number) => Array.from({ length: 20 }, ((pick) => () => pick(many, 1)[0])(sampler({ temperature: 1.5, seed })));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(() => sampler({ temperature: -1 })).toThrow(/temperature/);
  });
});
