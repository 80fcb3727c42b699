import { describe, expect, it } from 'vitest';
import { tensorBytes } from './ggml';
import { tableRowBytes, tableRowRanges, tableTypeOnGpu } from './vocab-table';

describe('tableRowRanges', () => {
  it('splits an f32 table in balanced parts of whole 64-row tiles under the limit', () => {
    const ranges = tableRowRanges(128256, 4096, 1024 ** 3);
    expect(ranges).toEqual([{ firstRow: 0, rows: 64128 }, { firstRow: 64128, rows: 64128 }]);
  });

  it('splits a quantized table by its encoded rows: Llama-3-8B Q4_K in 128 MiB bindings', () => {
    const rowBytes = tableRowBytes(4096, 'Q4_K');
    expect(rowBytes).toBe(tensorBytes('Q4_K', 4096)); // 16 blocks of 144 bytes
    const ranges = tableRowRanges(128256, 4096, 128 * 1024 ** 2, 'Q4_K');
    expect(ranges).toHaveLength(3);
    for (const r of ranges) expect(r.rows * rowBytes).toBeLessThanOrEqual(128 * 1024 ** 2);
    expect(ranges.reduce((n, r) => n + r.rows, 0)).toBe(128256);
  });

  it('starts every part at a multiple of 4 bytes: rows of 2 mod 4 bytes (Q6_K of 256 values: 210) go in pairs', () => {
    expect(tableRowBytes(256, 'Q6_K') % 4).toBe(2);
    for (const maxRows of [3, 5, 7, 9]) {
      const ranges = tableRowRanges(25, 256, maxRows * 210, 'Q6_K');
      let next = 0;
      for (const r of ranges) {
        expect(r.firstRow).toBe(next);
        expect((r.firstRow * 210) % 4).toBe(0);
        expect(r.rows).toBeLessThanOrEqual(maxRows);
        next += r.rows;
      }
      expect(next).toBe(25);
    }
    expect(() => tableRowRanges(25, 256, 300, 'Q6_K')).toThrow(/two table rows of 210 bytes .* do not fit a 300-byte binding/);
  });

  it('keeps quantized tables in their blocks and float tables in f32', () => {
    expect(['F32', 'F16', 'BF16', 'Q8_0', 'Q4_K', 'Q6_K'].map((t) => tableTypeOnGpu(t as 'F32'))).toEqual(['F32', 'F32', 'F32', 'Q8_0', 'Q4_K', 'Q6_K']);
  });
});
