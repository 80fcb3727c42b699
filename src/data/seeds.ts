// Seed derivation and a small seeded random source for the data layer: every context, example and label
// mapping is a pure function of (seed, what, index), so streams can be resumed and reproduced exactly.
import { mulberry32 } from '../util/random';

/** A 32-bit seed from any list of numbers and strings (FNV-1a over their text, then a murmur finaliser). */
export function hashSeed(...parts: (number | string)[]): number {
  let h = 0x811c9dc5;
  const text = parts.map(String).join('\u0001');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] (both included). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)];
  }

  /** k distinct items, in random order. */
  sample<T>(items: readonly T[], k: number): T[] {
    if (k > items.length) throw new Error(`cannot take ${k} distinct items from ${items.length}`);
    const copy = items.slice();
    for (let i = 0; i < k; i++) {
      const j = i + this.int(copy.length - i);
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, k);
  }

  /** Index i with probability weights[i] / sum(weights). */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, w) => a + w, 0);
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    // Rounding can leave r at a hair above 0: take the last index with weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    throw new Error('weighted pick needs a positive weight');
  }
}

/** Draws distinct integers from [0, n) in random order (a lazy Fisher-Yates over a sparse swap map). */
export class DrawWithoutReplacement {
  private readonly swapped = new Map<number, number>();
  private drawn = 0;

  constructor(
    readonly n: number,
    private readonly rng: Rng,
  ) {}

  get remaining(): number {
    return this.n - this.drawn;
  }

  /** The next index, or null once all n are drawn. */
  next(): number | null {
    if (this.drawn >= this.n) return null;
    const i = this.drawn;
    const j = i + this.rng.int(this.n - i);
    const atJ = this.swapped.get(j) ?? j;
    const atI = this.swapped.get(i) ?? i;
    this.swapped.set(j, atI);
    this.swapped.delete(i);
    this.drawn += 1;
    return atJ;
  }
}
