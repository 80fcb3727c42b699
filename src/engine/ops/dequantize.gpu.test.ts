import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { GGML_TYPES, type GgmlType, blockSize, f32ToF16Bits, quantize } from '../ggml';
import { mulberry32 } from '../../util/random';
import { dequantizeRows, f32RowsOf } from './dequantize';
import { dequantizeRowsRef } from './dequantize.reference';

/** A [rows, cols] matrix whose magnitude changes from row to row, encoded by the CPU. */
function testMatrix(type: GgmlType, rows: number, cols: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const m = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const scale = 0.02 * 10 ** (2 * next() - 1);
    for (let c = 0; c < cols; c++) m[r * cols + c] = (2 * next() - 1) * scale;
  }
  const bytes = quantize(type, m);
  if (type === 'F16') {
    // Subnormal halves (down to 2^-24) must decode too.
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 8; i++) view.setUint16(2 * (i * 7), f32ToF16Bits(i * 2 ** -24), true);
  }
  return bytes;
}

/** Row lengths per type: one whose encoded rows are not a multiple of 4 bytes (rows start mid-word), one that is. */
function columnsFor(type: GgmlType): number[] {
  if (blockSize(type) === 256) return [256, 512]; // Q6_K rows of 210 bytes
  if (blockSize(type) === 32) return [96, 160]; // Q8_0 rows of 102 bytes, Q4_0 of 54
  return [45, 64]; // F16 rows of 90 bytes; 45 values end mid-group of 8
}

function mismatches(got: Float32Array, want: Float32Array): number {
  let count = 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) count++;
  return count;
}

describe('dequantizeRows against the CPU dequantize()', () => {
  for (const type of GGML_TYPES) {
    for (const cols of columnsFor(type)) {
      it(`${type} [13, ${cols}]: rows 3..11 decode exactly`, async () => {
        const gpu = await testGpu();
        const [R, firstRow, rows] = [13, 3, 8];
        const bytes = testMatrix(type, R, cols, cols + R);
        const encoded = gpu.upload('encoded', bytes);
        const out = gpu.buffer('out', (rows + 1) * cols * 4);
        const sentinel = new Float32Array((rows + 1) * cols).fill(-7);
        gpu.write(out, sentinel);
        await gpu.submit((enc) => dequantizeRows(gpu, enc, { type, encoded, cols, firstRow, rows, out }));
        const got = await gpu.readF32(out);
        gpu.destroy(encoded, out);
        expect(mismatches(got.subarray(0, rows * cols), dequantizeRowsRef(type, bytes, cols, firstRow, rows))).toBe(0);
        // Nothing written past the range.
        expect(got.subarray(rows * cols).every((v) => v === -7)).toBe(true);
      });
    }
  }
});

describe('f32RowsOf', () => {
  for (const type of ['F32', 'Q4_K'] as const) {
    it(`${type}: a new buffer with rows [5, 9) of a [11, 256] tensor`, async () => {
      const gpu = await testGpu();
      const [R, cols] = [11, 256];
      const bytes = testMatrix(type, R, cols, 3);
      const encoded = gpu.upload('encoded', bytes);
      const out = f32RowsOf(gpu, 'rows', { type, encoded, cols }, 5, 4);
      gpu.destroy(encoded); // the work is already submitted
      const got = await gpu.readF32(out);
      gpu.destroy(out);
      expect(got.length).toBe(4 * cols);
      expect(mismatches(got, dequantizeRowsRef(type, bytes, cols, 5, 4))).toBe(0);
    });
  }

  it('rejects ranges past the tensor and rows that are not whole blocks, allocating nothing', async () => {
    const gpu = await testGpu();
    const bytes = testMatrix('Q8_0', 4, 64, 1);
    const encoded = gpu.upload('encoded', bytes);
    const before = gpu.allocatedBytes;
    expect(() => f32RowsOf(gpu, 'rows', { type: 'Q8_0', encoded, cols: 64 }, 2, 3)).toThrow(/need 340 bytes/);
    expect(() => f32RowsOf(gpu, 'rows', { type: 'Q8_0', encoded, cols: 48 }, 0, 1)).toThrow(/whole blocks of 32/);
    expect(() => f32RowsOf(gpu, 'rows', { type: 'F32', encoded, cols: 16 }, 0, 5)).toThrow(/do not fit/);
    expect(gpu.allocatedBytes).toBe(before);
    gpu.destroy(encoded);
  });
});
