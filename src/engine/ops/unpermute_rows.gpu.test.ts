import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { mulberry32 } from '../../util/random';
import { unpermuteQkRows } from './unpermute_rows';
import { unpermuteQkRowsRef } from './unpermute_rows.reference';

function randomBytes(n: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
}

describe('unpermuteQkRows against the CPU reference', () => {
  // Row sizes of Q8_0 (34 bytes per 32 values), Q6_K (210), Q4_K (144) and F16 with 3 values (6).
  const cases: { rows: number; heads: number; rowBytes: number }[] = [
    { rows: 12, heads: 3, rowBytes: 34 },
    { rows: 16, heads: 2, rowBytes: 210 },
    { rows: 8, heads: 1, rowBytes: 144 },
    { rows: 40, heads: 5, rowBytes: 6 },
    { rows: 2, heads: 1, rowBytes: 5 }, // 10 bytes: the last word is half padding
  ];
  for (const { rows, heads, rowBytes } of cases) {
    it(`${rows} rows of ${rowBytes} bytes, ${heads} heads`, async () => {
      const gpu = await testGpu();
      const bytes = randomBytes(rows * rowBytes, rows + rowBytes);
      const source = gpu.upload('source', bytes);
      const padded = Math.ceil(bytes.length / 4) * 4;
      const out = gpu.upload('out', new Uint8Array(padded).fill(0xee));
      await gpu.submit((enc) => unpermuteQkRows(gpu, enc, { source, out, rows, rowBytes, heads }));
      const got = new Uint8Array(await gpu.read(out));
      gpu.destroy(source, out);
      const want = unpermuteQkRowsRef(bytes, rows, heads);
      let mismatches = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
      expect(mismatches).toBe(0);
      expect(Array.from(got.subarray(want.length))).toEqual(new Array(padded - want.length).fill(0));
    });
  }

  it('rejects heads that do not divide the rows evenly', async () => {
    const gpu = await testGpu();
    const source = gpu.buffer('source', 64);
    const out = gpu.buffer('out', 64);
    const encoder = gpu.device.createCommandEncoder();
    expect(() => unpermuteQkRows(gpu, encoder, { source, out, rows: 6, rowBytes: 4, heads: 2 })).toThrow(/heads of even size/);
    expect(() => unpermuteQkRows(gpu, encoder, { source, out, rows: 8, rowBytes: 10, heads: 2 })).toThrow(/do not fit/);
    gpu.destroy(source, out);
  });
});
