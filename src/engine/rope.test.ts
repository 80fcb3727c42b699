import { describe, expect, it } from 'vitest';
import { ropeInverseFrequencies } from './rope';

/** Relative closeness at f32 precision. */
function expectCloseF32(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(2e-7 * Math.abs(expected));
}

describe('ropeInverseFrequencies', () => {
  it('default: 1 / theta^(2i/headDim)', () => {
    // headDim 8, theta 1e4: exponents 0, 1/4, 1/2, 3/4 give 1, 0.1, 0.01, 0.001.
    const f = ropeInverseFrequencies(8, 10000, null);
    expect(f.length).toBe(4);
    [1, 0.1, 0.01, 0.001].forEach((want, i) => expectCloseF32(f[i], want));
    // Values are f32, as PyTorch's.
    expect(f[1]).toBe(Math.fround(0.1));
  });

  it('default at Llama 3 size', () => {
    const f = ropeInverseFrequencies(128, 500000, null);
    expect(f.length).toBe(64);
    expect(f[0]).toBe(1);
    expectCloseF32(f[32], 1 / Math.sqrt(500000));
    expectCloseF32(f[63], 500000 ** (-126 / 128));
  });

  it('linear scaling divides by the factor', () => {
    const f = ropeInverseFrequencies(8, 10000, { type: 'linear', factor: 4 });
    [0.25, 0.025, 0.0025, 0.00025].forEach((want, i) => expectCloseF32(f[i], want));
  });

  it('llama3 scaling: short wavelengths kept, long ones divided, the band between blended', () => {
    // originalMax 1024, low 1, high 4: wavelengths above 1024 are divided by 8, below 256 kept.
    // Wavelengths of 1, 0.1, 0.01, 0.001 are 6.28, 62.8, 628.3 (blended) and 6283 (divided).
    const scaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 1024 } as const;
    const f = ropeInverseFrequencies(8, 10000, scaling);
    expectCloseF32(f[0], 1);
    expectCloseF32(f[1], 0.1);
    // smooth = (1024 / 628.3185 - 1) / 3 = 0.2099157; 0.01 * ((1 - smooth) / 8 + smooth) = 0.003086761
    const smooth = (1024 / (2 * Math.PI * 100) - 1) / 3;
    expect(smooth).toBeCloseTo(0.2099157, 6);
    expectCloseF32(f[2], 0.01 * ((1 - smooth) / 8 + smooth));
    expect(f[2]).toBeCloseTo(0.003086761, 8);
    expectCloseF32(f[3], 0.001 / 8);
  });

  it('llama3 scaling with Llama 3.1 8B settings', () => {
    const scaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } as const;
    const base = ropeInverseFrequencies(128, 500000, null);
    const f = ropeInverseFrequencies(128, 500000, scaling);
    // i = 0: wavelength 2*pi, kept. i = 40: wavelength 22911 > 8192, divided by 8.
    expect(f[0]).toBe(1);
    expectCloseF32(f[40], base[40] / 8);
    // i = 32: inv_freq = 1/sqrt(5e5) = 1.4142136e-3, wavelength 4442.88 inside [2048, 8192]:
    // smooth = (8192 / 4442.88 - 1) / 3 = 0.2812826, result 5.248461e-4.
    const freq = 1 / Math.sqrt(500000);
    const smooth = (8192 / ((2 * Math.PI) / freq) - 1) / 3;
    expect(smooth).toBeCloseTo(0.2812826, 6);
    expectCloseF32(f[32], (1 - smooth) * freq / 8 + smooth * freq);
    expect(f[32]).toBeCloseTo(5.248461e-4, 9);
    // Every value lies between the unscaled frequency / factor and the unscaled frequency.
    for (let i = 0; i < 64; i++) {
      expect(f[i]).toBeLessThanOrEqual(base[i]);
      expect(f[i]).toBeGreaterThanOrEqual(Math.fround(base[i] / 8));
    }
  });

  it('rejects an odd head dimension', () => {
    expect(() => ropeInverseFrequencies(7, 10000, null)).toThrow();
  });
});
