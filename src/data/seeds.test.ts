import { describe, expect, it } from 'vitest';
import { DrawWithoutReplacement, Rng, hashSeed } from './seeds';

describe('hashSeed', () => {
  it('is deterministic and separates its parts', () => {
    expect(hashSeed('context', 1, 2)).toBe(hashSeed('context', 1, 2));
    expect(hashSeed('context', 1, 2)).not.toBe(hashSeed('context', 12));
    expect(hashSeed('a', 1)).not.toBe(hashSeed('a', 2));
  });
});

describe('Rng', () => {
  it('repeats for a seed and keeps ints in range', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const xs = Array.from({ length: 100 }, () => a.range(3, 7));
    expect(xs).toEqual(Array.from({ length: 100 }, () => b.range(3, 7)));
    expect(Math.min(...xs)).toBe(3);
    expect(Math.max(...xs)).toBe(7);
  });

  it('samples distinct items and picks by weight', () => {
    const rng = new Rng(9);
    const s = rng.sample([1, 2, 3, 4, 5, 6], 4);
    expect(new Set(s).size).toBe(4);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[rng.weighted([1, 0, 3])]++;
    expect(counts[1]).toBe(0);
    expect(counts[2] / 20000).toBeCloseTo(0.75, 1);
  });
});

describe('DrawWithoutReplacement', () => {
  it('gives every index once, then null', () => {
    const d = new DrawWithoutReplacement(50, new Rng(1));
    const drawn: number[] = [];
    for (let x = d.next(); x !== null; x = d.next()) drawn.push(x);
    expect(drawn.length).toBe(50);
    expect([...drawn].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(drawn).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(d.remaining).toBe(0);
  });

  it('is roughly uniform over first draws', () => {
    const counts = new Array(5).fill(0);
    for (let s = 0; s < 5000; s++) counts[new DrawWithoutReplacement(5, new Rng(s)).next()!]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});
