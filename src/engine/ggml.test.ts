import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../util/random';
import {
  GGML_TYPE_ID,
  GGML_TYPES,
  type GgmlType,
  bf16BitsToF32,
  blockBytes,
  blockSize,
  dequantize,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  ggmlTypeFromId,
  kScaleMin,
  packKScales,
  quantize,
  tensorBytes,
} from './ggml';

/**
 * Blocks of uniform values whose magnitude changes from block to block (1e-2 .. 10; much smaller blocks
 * get subnormal half-precision scales, which cost ggml's Q8_0/Q4_0/Q4_1 encoders precision too).
 */
function testValues(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let b = 0; b < n; b += 32) {
    const scale = 10 ** (-2 + 3 * next());
    const shift = next() < 0.25 ? scale * (next() - 0.5) * 3 : 0; // some blocks all of one sign
    for (let j = b; j < Math.min(n, b + 32); j++) out[j] = (2 * next() - 1) * scale + shift;
  }
  return out;
}

function f16Bytes(...values: number[]): number[] {
  return values.flatMap((v) => {
    const bits = f32ToF16Bits(v);
    return [bits & 0xff, bits >> 8];
  });
}

describe('type table', () => {
  it('ids, block sizes and bytes', () => {
    expect(GGML_TYPE_ID).toEqual({ F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 });
    for (const type of GGML_TYPES) expect(ggmlTypeFromId(GGML_TYPE_ID[type])).toBe(type);
    expect(ggmlTypeFromId(10)).toBeNull();
    const sizes = GGML_TYPES.map((t) => [t, blockSize(t), blockBytes(t)]);
    expect(sizes).toEqual([
      ['F32', 1, 4], ['F16', 1, 2], ['BF16', 1, 2], ['Q8_0', 32, 34], ['Q4_0', 32, 18], ['Q4_1', 32, 20],
      ['Q4_K', 256, 144], ['Q5_K', 256, 176], ['Q6_K', 256, 210],
    ]);
    expect(tensorBytes('Q4_K', 512)).toBe(288);
    expect(tensorBytes('F16', 3)).toBe(6);
    expect(() => tensorBytes('Q8_0', 48)).toThrow(/blocks of 32/);
  });
});

describe('16-bit floats', () => {
  it('f16 encodes known values, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [0, 0], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [65520, 0x7c00],
      [1e9, 0x7c00], [-Infinity, 0xfc00], [2 ** -24, 0x0001], [2 ** -25, 0], [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [2 ** -14 - 2 ** -25, 0x0400],
    ];
    for (const [value, bits] of cases) expect([value, f32ToF16Bits(value)]).toEqual([value, bits]);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('every finite f16 survives f16 -> f32 -> f16', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue;
      const back = f32ToF16Bits(f16BitsToF32(bits));
      if (back !== bits) throw new Error(`0x${bits.toString(16)} came back as 0x${back.toString(16)}`);
    }
  });

  it('bf16 keeps the top half of the f32 bits, rounding to nearest even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(bf16BitsToF32(0x3fc0)).toBe(1.5);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });
});

describe('dequantize hand-built blocks', () => {
  it('F32, F16 and BF16', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -0.25]).buffer);
    expect([...dequantize('F32', f32, 2)]).toEqual([1.5, -0.25]);
    expect([...dequantize('F16', new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]), 3)]).toEqual([1, -2, 2 ** -24]);
    expect([...dequantize('BF16', new Uint8Array([0xc0, 0x3f, 0x80, 0xbe]), 2)]).toEqual([1.5, -0.25]);
  });

  it('Q8_0: x = q * d', () => {
    const q = Array.from({ length: 32 }, (_, j) => j * 8 - 128); // -128 .. 120
    const block = [...f16Bytes(0.5), ...q.map((v) => v & 0xff)];
    const got = dequantize('Q8_0', new Uint8Array(block), 32);
    expect([...got]).toEqual(q.map((v) => v * 0.5));
  });

  it('Q4_0: low nibbles are values 0..15, high nibbles 16..31, x = (q - 8) * d', () => {
    const block = [...f16Bytes(2), ...Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4))];
    const got = dequantize('Q4_0', new Uint8Array(block), 32);
    const want = [...Array.from({ length: 16 }, (_, j) => (j - 8) * 2), ...Array.from({ length: 16 }, (_, j) => (7 - j) * 2)];
    expect([...got]).toEqual(want);
  });

  it('Q4_1: x = q * d + m', () => {
    const block = [...f16Bytes(0.25, -1), ...Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4))];
    const got = dequantize('Q4_1', new Uint8Array(block), 32);
    const want = [...Array.from({ length: 16 }, (_, j) => j * 0.25 - 1), ...Array.from({ length: 16 }, (_, j) => (15 - j) * 0.25 - 1)];
    expect([...got]).toEqual(want);
  });

  // 6-bit scales [1,2,3,4,25,10,11,12] and mins [5,6,7,8,10,43,12,13], packed by hand: sub-blocks 4..7 keep
  // their low 4 bits in bytes 8..11 and their top 2 bits in the top bits of bytes 0..7.
  const kScales = [1 | 64, 2, 3, 4, 5, 6 | 128, 7, 8, 0xa9, 0xba, 0xcb, 0xdc];
  const wantScales = [1, 2, 3, 4, 25, 10, 11, 12];
  const wantMins = [5, 6, 7, 8, 10, 43, 12, 13];

  it('K-quant 6-bit scales: hand-packed bytes, and packKScales round trip', () => {
    const bytes = new Uint8Array(kScales);
    for (let j = 0; j < 8; j++) expect(kScaleMin(bytes, j)).toEqual([wantScales[j], wantMins[j]]);
    const next = mulberry32(3);
    const s = Array.from({ length: 8 }, () => Math.floor(next() * 64));
    const m = Array.from({ length: 8 }, () => Math.floor(next() * 64));
    const packed = packKScales(s, m);
    for (let j = 0; j < 8; j++) expect(kScaleMin(packed, j)).toEqual([s[j], m[j]]);
  });

  for (const type of ['Q4_K', 'Q5_K'] as const) {
    it(`${type}: x = d * scale * q - dmin * min per sub-block of 32`, () => {
      const qs = Array.from({ length: 128 }, (_, i) => (i & 15) | ((((i & 31) + (i >> 5)) & 15) << 4));
      const qh = Array.from({ length: 32 }, (_, l) => (l * 37 + 11) & 0xff);
      const block = [...f16Bytes(1, 0.5), ...kScales, ...(type === 'Q5_K' ? qh : []), ...qs];
      expect(block.length).toBe(blockBytes(type));
      const got = dequantize(type, new Uint8Array(block), 256);
      for (let c = 0; c < 4; c++) {
        for (let l = 0; l < 32; l++) {
          let q0 = l & 15;
          let q1 = (l + c) & 15;
          if (type === 'Q5_K') {
            q0 += (qh[l] >> (2 * c)) & 1 ? 16 : 0;
            q1 += (qh[l] >> (2 * c + 1)) & 1 ? 16 : 0;
          }
          expect(got[64 * c + l]).toBe(wantScales[2 * c] * q0 - 0.5 * wantMins[2 * c]);
          expect(got[64 * c + 32 + l]).toBe(wantScales[2 * c + 1] * q1 - 0.5 * wantMins[2 * c + 1]);
        }
      }
    });
  }

  it('Q6_K: x = d * scale * (q - 32), written as ggml loops over it', () => {
    const ql = Array.from({ length: 128 }, (_, i) => (i * 37 + 5) & 0xff);
    const qh = Array.from({ length: 64 }, (_, i) => (i * 91 + 7) & 0xff);
    const scales = Array.from({ length: 16 }, (_, i) => i - 8);
    const block = new Uint8Array([...ql, ...qh, ...scales.map((s) => s & 0xff), ...f16Bytes(0.5)]);
    const got = dequantize('Q6_K', block, 256);
    for (let half = 0; half < 2; half++) {
      for (let l = 0; l < 32; l++) {
        const L = (i: number) => ql[64 * half + i];
        const H = qh[32 * half + l];
        const sc = (i: number) => scales[8 * half + i];
        const is = l >> 4;
        const q1 = ((L(l) & 15) | ((H & 3) << 4)) - 32;
        const q2 = ((L(l + 32) & 15) | (((H >> 2) & 3) << 4)) - 32;
        const q3 = ((L(l) >> 4) | (((H >> 4) & 3) << 4)) - 32;
        const q4 = ((L(l + 32) >> 4) | (((H >> 6) & 3) << 4)) - 32;
        expect(got[128 * half + l]).toBe(0.5 * sc(is) * q1);
        expect(got[128 * half + l + 32]).toBe(0.5 * sc(is + 2) * q2);
        expect(got[128 * half + l + 64]).toBe(0.5 * sc(is + 4) * q3);
        expect(got[128 * half + l + 96]).toBe(0.5 * sc(is + 6) * q4);
      }
    }
  });

  it('rejects too few bytes', () => {
    expect(() => dequantize('Q8_0', new Uint8Array(33), 32)).toThrow(/34 bytes/);
  });
});

/**
 * The largest error dequantize(quantize(x)) may make on a block of values, in units of the block's
 * largest magnitude: half a quantization step and a little for the half-precision scales, or a whole step
 * for Q4_0, whose grid of -8..7 steps cannot reach the opposite of its extreme value.
 */
const ROUND_TRIP_BOUND: Record<GgmlType, number> = {
  F32: 0,
  F16: 2 ** -11,
  BF16: 2 ** -8,
  Q8_0: (0.5 / 127) * 1.15,
  Q4_0: (1 / 8) * 1.02,
  Q4_1: (0.5 * 2) / 15 * 1.05,
  Q4_K: (0.5 * 2) / 15 * 1.1,
  Q5_K: (0.5 * 2) / 31 * 1.1,
  Q6_K: (0.5 / 31) * 1.1,
};

describe('dequantize(quantize(x)) is close to x', () => {
  for (const type of GGML_TYPES) {
    it(`${type}`, () => {
      const n = 2048;
      const x = testValues(n, 11);
      const bytes = quantize(type, x);
      expect(bytes.byteLength).toBe(tensorBytes(type, n));
      const y = dequantize(type, bytes, n);
      const group = Math.max(32, blockSize(type)); // errors measured against the magnitude of their block
      let worst = 0;
      let sum = 0;
      for (let b = 0; b < n; b += group) {
        let amax = 0;
        for (let j = b; j < b + group; j++) amax = Math.max(amax, Math.abs(x[j]));
        for (let j = b; j < b + group; j++) {
          worst = Math.max(worst, Math.abs(y[j] - x[j]) / amax);
          sum += Math.abs(y[j] - x[j]) / amax;
        }
      }
      expect(worst).toBeLessThanOrEqual(ROUND_TRIP_BOUND[type]);
      // And not just within bounds: the mean error is about a quarter step, well below the worst case.
      expect(sum / n).toBeLessThanOrEqual(ROUND_TRIP_BOUND[type] * 0.6);
    });

    it(`${type}: zeros stay zeros, and a constant block stays close`, () => {
      const n = blockSize(type) === 1 ? 32 : blockSize(type);
      expect([...dequantize(type, quantize(type, new Float32Array(n)), n)].every((v) => v === 0)).toBe(true);
      const constant = new Float32Array(n).fill(-0.3);
      const y = dequantize(type, quantize(type, constant), n);
      for (const v of y) expect(Math.abs(v + 0.3)).toBeLessThanOrEqual(0.3 * ROUND_TRIP_BOUND[type] + 1e-7);
    });
  }

  it('K-quants: every value is rounded onto its sub-block grid (error <= half of its step)', () => {
    const x = testValues(1024, 5);
    for (const type of ['Q4_K', 'Q5_K'] as const) {
      const bytes = quantize(type, x);
      const y = dequantize(type, bytes, 1024);
      for (let b = 0; b < 4; b++) {
        const d = f16BitsToF32(bytes[b * blockBytes(type)] | (bytes[b * blockBytes(type) + 1] << 8));
        const scales = bytes.subarray(b * blockBytes(type) + 4, b * blockBytes(type) + 16);
        for (let j = 0; j < 256; j++) {
          const step = d * kScaleMin(scales, j >> 5)[0];
          expect(Math.abs(y[256 * b + j] - x[256 * b + j])).toBeLessThanOrEqual(0.5 * step * (1 + 1e-5) + 1e-7);
        }
      }
    }
  });
});
