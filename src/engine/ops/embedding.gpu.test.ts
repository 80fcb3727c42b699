import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { mulberry32, randomArray } from '../../util/random';
import { type GgmlType, dequantize, quantize } from '../ggml';
import { type VocabTable, tableRowBytes, tableRowRanges } from '../vocab-table';
import { embeddingBackward, embeddingForward, groupRowsByToken } from './embedding';
import { embeddingBackwardRef, embeddingForwardRef } from './embedding.reference';

/** Token ids in [0, vocab) with repeats: a few frequent tokens, like a long prompt. */
function randomIds(rows: number, vocab: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  return Uint32Array.from({ length: rows }, () => (next() < 0.4 ? Math.floor(next() * 3) : Math.floor(next() * vocab)));
}

const shapes: [number, number, number][] = [[1, 5, 64], [7, 11, 257], [33, 40, 100], [70, 9, 600]];

/** The table uploaded in parts of at most maxPartBytes, as a large model's embedding is. */
function uploadTable(gpu: Awaited<ReturnType<typeof testGpu>>, table: Float32Array, vocab: number, dim: number, maxPartBytes: number): VocabTable {
  const parts = tableRowRanges(vocab, dim, maxPartBytes).map(({ firstRow, rows }) => ({
    buffer: gpu.upload(`table rows ${firstRow}+${rows}`, table.subarray(firstRow * dim, (firstRow + rows) * dim)),
    firstRow,
    rows,
  }));
  return { rows: vocab, dim, parts };
}

describe('embedding', () => {
  for (const [rows, vocab, dim] of shapes) {
    for (const partRows of [vocab, 4]) {
      const split = partRows < vocab ? `, table in parts of ${partRows} rows` : '';
      it(`forward rows=${rows} vocab=${vocab} dim=${dim}${split}`, async () => {
        const gpu = await testGpu();
        const ids = randomIds(rows, vocab, rows);
        if (rows > 1) ids[rows - 1] = vocab + 3; // past the table: a zero row
        const table = randomArray(vocab * dim, dim);
        const gTable = uploadTable(gpu, table, vocab, dim, partRows * dim * 4);
        expect(gTable.parts.length).toBe(Math.ceil(vocab / partRows));
        const gIds = gpu.upload('ids', ids);
        const gOut = gpu.upload('out', new Float32Array(rows * dim).fill(NaN));
        await gpu.submit((enc) => embeddingForward(gpu, enc, { ids: gIds, table: gTable, out: gOut, rows }));
        const got = await gpu.readF32(gOut, rows * dim);
        gpu.destroy(gIds, gOut, ...gTable.parts.map((p) => p.buffer));
        expect(got).toEqual(embeddingForwardRef(ids, table, vocab, dim));
      });
    }

    it(`backward rows=${rows} vocab=${vocab} dim=${dim}`, async () => {
      const gpu = await testGpu();
      const ids = randomIds(rows, vocab, rows + 1);
      const dOut = randomArray(rows * dim, dim + 1);
      const dTable0 = randomArray(vocab * dim, dim + 2);
      const groups = groupRowsByToken(gpu, ids);
      const [gdOut, gdTable] = [gpu.upload('dOut', dOut), gpu.upload('dTable', dTable0)];
      await gpu.submit((enc) => embeddingBackward(gpu, enc, { dOut: gdOut, groups, dTable: gdTable, dim }));
      const got = await gpu.readF32(gdTable, vocab * dim);
      gpu.destroy(gdOut, gdTable);
      groups.destroy();
      expect(maxRelError(got, embeddingBackwardRef(ids, dOut, dTable0, dim))).toBeLessThan(1e-6);
      // Rows of tokens absent from the batch are untouched, bit for bit.
      for (let token = 0; token < vocab; token++) {
        if (ids.includes(token)) continue;
        const row = (a: Float32Array) => a.subarray(token * dim, (token + 1) * dim);
        expect(row(got)).toEqual(row(dTable0));
      }
    });
  }

  // A quantized model's embedding stays in its GGML blocks: the gather decodes each token's row (the reference:
  // the f32 gather from the GGML dequantization of the table).
  const quantCases: [GgmlType, number, number, number, number][] = [
    ['Q8_0', 9, 70, 96, 16], ['Q4_0', 33, 40, 64, 40], ['Q4_K', 12, 30, 512, 7], ['Q6_K', 20, 25, 256, 6], ['Q5_K', 6, 10, 256, 10],
  ];
  for (const [type, rows, vocab, dim, partRows] of quantCases) {
    it(`forward from ${type} blocks rows=${rows} vocab=${vocab} dim=${dim}, parts of ${partRows} rows`, async () => {
      const gpu = await testGpu();
      const ids = randomIds(rows, vocab, rows + 5);
      ids[rows - 1] = vocab; // past the table: a zero row
      const bytes = quantize(type, randomArray(vocab * dim, dim + 3));
      const rowBytes = tableRowBytes(dim, type);
      const parts = tableRowRanges(vocab, dim, partRows * rowBytes, type).map(({ firstRow, rows: n }) => ({
        buffer: gpu.upload(`${type} rows ${firstRow}+${n}`, bytes.subarray(firstRow * rowBytes, (firstRow + n) * rowBytes)),
        firstRow,
        rows: n,
      }));
      expect(parts.length).toBe(Math.ceil(vocab / partRows));
      const gIds = gpu.upload('ids', ids);
      const gOut = gpu.upload('out', new Float32Array(rows * dim).fill(NaN));
      await gpu.submit((enc) => embeddingForward(gpu, enc, { ids: gIds, table: { rows: vocab, dim, type, parts }, out: gOut, rows }));
      const got = await gpu.readF32(gOut, rows * dim);
      gpu.destroy(gIds, gOut, ...parts.map((p) => p.buffer));
      expect(got).toEqual(embeddingForwardRef(ids, dequantize(type, bytes, vocab * dim), vocab, dim));
    });
  }

  it('groupRowsByToken builds the CSR', async () => {
    const gpu = await testGpu();
    const groups = groupRowsByToken(gpu, Uint32Array.from([7, 2, 7, 9, 2, 7]));
    const readU32 = async (buffer: GPUBuffer, length: number) => new Uint32Array(await gpu.read(buffer, length * 4));
    expect(groups.groupCount).toBe(3);
    expect(groups.rowCount).toBe(6);
    expect([...(await readU32(groups.tokens, 3))]).toEqual([2, 7, 9]);
    expect([...(await readU32(groups.offsets, 4))]).toEqual([0, 2, 5, 6]);
    expect([...(await readU32(groups.rowList, 6))]).toEqual([1, 4, 0, 2, 5, 3]);
    groups.destroy();
  });

  it('backward with no rows leaves dTable as it was', async () => {
    const gpu = await testGpu();
    const dTable0 = randomArray(4 * 8, 5);
    const groups = groupRowsByToken(gpu, new Uint32Array(0));
    const [gdOut, gdTable] = [gpu.buffer('dOut', 4), gpu.upload('dTable', dTable0)];
    await gpu.submit((enc) => embeddingBackward(gpu, enc, { dOut: gdOut, groups, dTable: gdTable, dim: 8 }));
    const got = await gpu.readF32(gdTable);
    gpu.destroy(gdOut, gdTable);
    groups.destroy();
    expect(got).toEqual(dTable0);
  });
});
