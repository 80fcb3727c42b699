import { describe, expect, it } from 'vitest';
import { learningRate } from './schedule';

describe('learningRate', () => {
  const cfg = { lr: 1e-3, warmupSteps: 10, minLrRatio: 0.1, steps: 110 };
  it('warms up linearly', () => {
    expect(learningRate(1, cfg)).toBeCloseTo(1e-4, 12);
    expect(learningRate(5, cfg)).toBeCloseTo(5e-4, 12);
    expect(learningRate(10, cfg)).toBeCloseTo(1e-3, 12);
  });
  it('decays along a cosine to lr * minLrRatio', () => {
    expect(learningRate(60, cfg)).toBeCloseTo(0.55e-3, 12);
    expect(learningRate(110, cfg)).toBeCloseTo(1e-4, 12);
    expect(learningRate(200, cfg)).toBeCloseTo(1e-4, 12);
    for (let s = 11; s < 110; s++) expect(learningRate(s + 1, cfg)).toBeLessThan(learningRate(s, cfg));
  });
  it('without warmup starts at lr', () => {
    expect(learningRate(1, { ...cfg, warmupSteps: 0 })).toBeCloseTo(1e-3 * (0.1 + 0.45 * (1 + Math.cos(Math.PI / 110))), 12);
  });
});
