import { describe, expect, it } from 'vitest';
import type { ReduceOptions } from './reduce';
import { gpuFor, REDUCTION_PATHS } from './reduce.testing';
import type { Gpu } from '../../gpu/gpu';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { mulberry32, randomArray } from '../../util/random';
import { type GgmlType, dequantize, quantize } from '../ggml';
import { type VocabTable, tableRowBytes, tableRowRanges, wholeTable } from '../vocab-table';
import {
  createCrossEntropyScratch,
  crossEntropyBackward,
  crossEntropyForward,
  lmHeadLogits,
} from './cross_entropy';
import { type CrossEntropyProblem, crossEntropyRef, lmHeadLogitsRef } from './cross_entropy.reference';

/** `targets` distinct scattered rows of `rows`, with labels that include the first and last vocabulary ids. */
function makeProblem(rows: number, dim: number, vocab: number, targets: number, seed: number, scale = 1): CrossEntropyProblem {
  const next = mulberry32(seed);
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const targetRows = Uint32Array.from(order.slice(0, targets));
  const targetLabels = Uint32Array.from({ length: targets }, () => Math.floor(next() * vocab));
  if (targets > 1) {
    targetLabels[0] = 0;
    targetLabels[1] = vocab - 1;
  }
  const targetWeights = Float32Array.from({ length: targets }, () => 0.1 + next());
  if (targets > 2) targetWeights[2] = 0; // an ignored target
  return {
    rows, dim, vocab, targetRows, targetLabels, targetWeights,
    hidden: randomArray(rows * dim, seed + 1, scale),
    weight: randomArray(vocab * dim, seed + 2, scale),
  };
}

/** Runs forward then backward on the GPU; dHidden starts from `prior`. */
async function runGpu(
  gpu: Gpu, pr: CrossEntropyProblem, prior: Float32Array, maxChunkBytes?: number, partRows = pr.vocab, type: GgmlType = 'F32', reduce: ReduceOptions = {},
): Promise<{ loss: Float32Array; dHidden: Float32Array; chunk: number }> {
  const targets = pr.targetRows.length;
  const hidden = gpu.upload('hidden', pr.hidden);
  const weight = uploadTable(gpu, pr.weight, pr.vocab, pr.dim, partRows, type);
  const targetRows = gpu.upload('targetRows', pr.targetRows);
  const targetLabels = gpu.upload('targetLabels', pr.targetLabels);
  const targetWeights = gpu.upload('targetWeights', pr.targetWeights);
  const tokenLoss = gpu.buffer('tokenLoss', targets * 4);
  const dHidden = gpu.upload('dHidden', prior);
  const scratch = createCrossEntropyScratch(gpu, targets, pr.dim, pr.vocab, maxChunkBytes);
  const shape = { targets, dim: pr.dim, vocab: pr.vocab, scratch, reduce };
  await gpu.submit((enc) => {
    crossEntropyForward(gpu, enc, { hidden, weight, targetRows, targetLabels, tokenLoss, ...shape });
    crossEntropyBackward(gpu, enc, { hidden, weight, targetRows, targetLabels, targetWeights, dHidden, ...shape });
  });
  const loss = await gpu.readF32(tokenLoss, targets);
  const dHiddenOut = await gpu.readF32(dHidden, pr.rows * pr.dim);
  const chunk = scratch.chunk;
  scratch.destroy();
  gpu.destroy(hidden, targetRows, targetLabels, targetWeights, tokenLoss, dHidden, ...weight.parts.map((p) => p.buffer));
  return { loss, dHidden: dHiddenOut, chunk };
}

/**
 * The [vocab, dim] table in parts of partRows rows, as a large model's LM head is split over bindings: f32, or
 * the GGML blocks of `type` (whose values the table must already be: see quantized()).
 */
function uploadTable(gpu: Gpu, table: Float32Array, vocab: number, dim: number, partRows: number, type: GgmlType = 'F32'): VocabTable {
  const rowBytes = tableRowBytes(dim, type);
  const bytes = type === 'F32' ? new Uint8Array(table.buffer, table.byteOffset, table.byteLength) : quantize(type, table);
  const parts = tableRowRanges(vocab, dim, partRows * rowBytes, type).map(({ firstRow, rows }) => ({
    buffer: gpu.upload(`weight rows ${firstRow}+${rows}`, bytes.subarray(firstRow * rowBytes, (firstRow + rows) * rowBytes)),
    firstRow,
    rows,
  }));
  return { rows: vocab, dim, type, parts };
}

/** The problem with its LM head replaced by the values that `type`'s blocks hold exactly. */
function quantized(pr: CrossEntropyProblem, type: GgmlType): CrossEntropyProblem {
  return { ...pr, weight: dequantize(type, quantize(type, pr.weight), pr.weight.length) };
}

describe('cross-entropy at target rows (vocabulary chunks)', () => {
  const [rows, vocab, targets, chunk] = [40, 300, 13, 37];
  const cases: { dim: number; chunkBytes?: number; partRows?: number }[] = [
    { dim: 24, chunkBytes: chunk * targets * 4 },
    { dim: 24 },
    { dim: 64, chunkBytes: chunk * targets * 4 },
    { dim: 64 },
    { dim: 24, chunkBytes: chunk * targets * 4, partRows: 90 }, // chunks restart at each part's first row
    { dim: 64, partRows: 128 },
  ];
  for (const { dim, chunkBytes, partRows } of cases) for (const path of REDUCTION_PATHS) {
      const chunkName = (chunkBytes ? `chunks of ${chunk}` : 'one chunk') + (partRows ? `, LM head in parts of ${partRows} rows` : '');
      it(`D=${dim}, V=${vocab}, ${targets} of ${rows} rows, ${chunkName}, log-sum-exp through ${path.name}`, async ({ skip }) => {
        const gpu = await gpuFor(path, skip);
        const pr = makeProblem(rows, dim, vocab, targets, dim);
        const prior = randomArray(rows * dim, 7, 0.5);
        const got = await runGpu(gpu, pr, prior, chunkBytes, partRows, 'F32', path);
        expect(got.chunk).toBe(chunkBytes ? chunk : vocab);
        const want = crossEntropyRef(pr);
        expect(maxRelError(got.loss, want.loss)).toBeLessThan(1e-5);
        const isTarget = new Set(pr.targetRows);
        const gradient = new Float64Array(rows * dim);
        for (let r = 0; r < rows; r++) {
          for (let d = 0; d < dim; d++) {
            const i = r * dim + d;
            if (isTarget.has(r)) gradient[i] = got.dHidden[i] - prior[i];
            else expect(got.dHidden[i]).toBe(prior[i]); // untouched
          }
        }
        expect(maxRelError(gradient, want.dHidden)).toBeLessThan(1e-5);
        const ignored = pr.targetRows[2] * dim;
        expect(Array.from(got.dHidden.subarray(ignored, ignored + dim))).toEqual(
          Array.from(prior.subarray(ignored, ignored + dim)),
        );
      });
  }

  // A quantized model's LM head stays in its GGML blocks: the chunk products are the quantized matmul's.
  const quantCases: { type: GgmlType; dim: number; chunkBytes?: number; partRows?: number }[] = [
    { type: 'Q8_0', dim: 64, chunkBytes: chunk * targets * 4, partRows: 90 },
    { type: 'Q4_K', dim: 256, chunkBytes: chunk * targets * 4 },
    { type: 'Q6_K', dim: 256, partRows: 128 },
  ];
  for (const { type, dim, chunkBytes, partRows } of quantCases) {
    const chunkName = (chunkBytes ? `chunks of ${chunk}` : 'one chunk') + (partRows ? `, parts of ${partRows} rows` : '');
    it(`${type} LM head, D=${dim}, V=${vocab}, ${chunkName}`, async () => {
      const gpu = await testGpu();
      const pr = quantized(makeProblem(rows, dim, vocab, targets, dim + 1), type);
      const prior = randomArray(rows * dim, 8, 0.5);
      const got = await runGpu(gpu, pr, prior, chunkBytes, partRows, type);
      const want = crossEntropyRef(pr);
      expect(maxRelError(got.loss, want.loss)).toBeLessThan(1e-5);
      const gradient = new Float64Array(rows * dim);
      for (const r of pr.targetRows) {
        for (let d = 0; d < dim; d++) gradient[r * dim + d] = got.dHidden[r * dim + d] - prior[r * dim + d];
      }
      expect(maxRelError(gradient, want.dHidden)).toBeLessThan(1e-5);
      const other = [...Array(rows).keys()].find((r) => !pr.targetRows.includes(r))! * dim;
      expect(got.dHidden.subarray(other, other + dim)).toEqual(prior.subarray(other, other + dim)); // untouched
    });
  }

  it('Q4_0 LM head in parts: full logits equal the f32 product of the decoded table', async () => {
    const gpu = await testGpu();
    const [rowsL, dim, V] = [5, 64, 150];
    const weightValues = dequantize('Q4_0', quantize('Q4_0', randomArray(V * dim, 3)), V * dim);
    const hiddenValues = randomArray(rowsL * dim, 4);
    const table = uploadTable(gpu, weightValues, V, dim, 64, 'Q4_0');
    expect(table.parts.length).toBe(3);
    const hidden = gpu.upload('hidden', hiddenValues);
    const logits = gpu.upload('logits', new Float32Array(rowsL * V).fill(NaN));
    await gpu.submit((enc) => lmHeadLogits(gpu, enc, { hidden, weight: table, rows: rowsL, dim, vocab: V, logits }));
    const got = await gpu.readF32(logits);
    gpu.destroy(hidden, logits, ...table.parts.map((p) => p.buffer));
    expect(maxRelError(got, lmHeadLogitsRef(hiddenValues, weightValues, rowsL, dim, V))).toBeLessThan(1e-5);
  });

  it('large logits stay finite (max-shifted logsumexp across chunks)', async () => {
    const gpu = await testGpu();
    const pr = makeProblem(20, 24, 150, 7, 11, 6); // logits up to a few hundred: exp would overflow f32
    const got = await runGpu(gpu, pr, new Float32Array(20 * 24), 16 * 7 * 4);
    const want = crossEntropyRef(pr);
    expect(maxRelError(got.loss, want.loss)).toBeLessThan(1e-5);
    expect(maxRelError(got.dHidden, want.dHidden)).toBeLessThan(1e-5);
  });

  it('targetWeights scale the gradient linearly', async () => {
    const gpu = await testGpu();
    const pr = makeProblem(rows, 24, vocab, targets, 5);
    const zero = new Float32Array(rows * 24);
    const base = await runGpu(gpu, pr, zero, chunk * targets * 4);
    const scaled = await runGpu(gpu, { ...pr, targetWeights: pr.targetWeights.map((w) => 3 * w) }, zero, chunk * targets * 4);
    expect(maxRelError(scaled.loss, base.loss)).toBe(0);
    expect(maxRelError(scaled.dHidden, base.dHidden.map((g) => 3 * g))).toBeLessThan(1e-6);
  });

  it('dHidden matches finite differences of sum_p w_p loss_p', async () => {
    const gpu = await testGpu();
    const dim = 24;
    const pr = makeProblem(rows, dim, vocab, targets, 3);
    const got = await runGpu(gpu, pr, new Float32Array(rows * dim), chunk * targets * 4);
    const objective = (hidden: Float64Array) => {
      const { loss } = crossEntropyRef(pr, hidden);
      return loss.reduce((sum, l, p) => sum + pr.targetWeights[p] * l, 0);
    };
    const h = 1e-5;
    const probes = [pr.targetRows[0] * dim, pr.targetRows[1] * dim + 5, pr.targetRows[6] * dim + dim - 1, 3];
    const hidden = Float64Array.from(pr.hidden);
    for (const i of probes) {
      const x = hidden[i];
      hidden[i] = x + h;
      const up = objective(hidden);
      hidden[i] = x - h;
      const down = objective(hidden);
      hidden[i] = x;
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(got.dHidden[i] - numeric)).toBeLessThan(1e-5 + 1e-4 * Math.abs(numeric));
    }
    const scale = Math.max(...got.dHidden.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-2); // the probes above are not all trivially zero
  });

  it('no targets is a no-op', async () => {
    const gpu = await testGpu();
    const [dim, n] = [24, 10];
    const prior = randomArray(n * dim, 9);
    const hidden = gpu.upload('hidden', randomArray(n * dim, 1));
    const weight = wholeTable(gpu.upload('weight', randomArray(50 * dim, 2)), 50, dim);
    const empty = gpu.buffer('empty', 4);
    const dHidden = gpu.upload('dHidden', prior);
    const scratch = createCrossEntropyScratch(gpu, 0, dim, 50);
    const shape = { targets: 0, dim, vocab: 50, scratch, targetRows: empty, targetLabels: empty };
    await gpu.submit((enc) => {
      crossEntropyForward(gpu, enc, { hidden, weight, tokenLoss: empty, ...shape });
      crossEntropyBackward(gpu, enc, { hidden, weight, targetWeights: empty, dHidden, ...shape });
    });
    expect(Array.from(await gpu.readF32(dHidden))).toEqual(Array.from(prior));
    scratch.destroy();
    gpu.destroy(hidden, weight.parts[0].buffer, empty, dHidden);
  });

  for (const partRows of [150, 64]) {
  it(`lmHeadLogits matches the CPU${partRows < 150 ? `, LM head in parts of ${partRows} rows` : ''}`, async () => {
    const gpu = await testGpu();
    const [n, dim, v] = [13, 40, 150];
    const hiddenData = randomArray(n * dim, 21);
    const weightData = randomArray(v * dim, 22);
    const hidden = gpu.upload('hidden', hiddenData);
    const weight = uploadTable(gpu, weightData, v, dim, partRows);
    const logits = gpu.buffer('logits', n * v * 4);
    await gpu.submit((enc) => lmHeadLogits(gpu, enc, { hidden, weight, rows: n, dim, vocab: v, logits }));
    const got = await gpu.readF32(logits, n * v);
    gpu.destroy(hidden, logits, ...weight.parts.map((p) => p.buffer));
    expect(maxRelError(got, lmHeadLogitsRef(hiddenData, weightData, n, dim, v))).toBeLessThan(1e-5);
  });
  }
});

describe('cross-entropy LM-head weight gradient (full-parameter training)', () => {
  it('dWeight += sum_p w_p (softmax_p - onehot_p) gathered_p, across vocabulary chunks', async () => {
    const gpu = await testGpu();
    const pr = makeProblem(40, 24, 300, 13, 77);
    const { rows, dim, vocab } = pr;
    const P = pr.targetRows.length;
    const want = crossEntropyRef(pr).dWeight;
    const prior = randomArray(vocab * dim, 5, 0.1);
    for (let i = 0; i < want.length; i++) want[i] += prior[i];
    const buffers = {
      hidden: gpu.upload('hidden', pr.hidden), weightBuffer: gpu.upload('weight', pr.weight),
      targetRows: gpu.upload('rows', pr.targetRows), targetLabels: gpu.upload('labels', pr.targetLabels),
      targetWeights: gpu.upload('weights', pr.targetWeights), tokenLoss: gpu.buffer('loss', P * 4),
      dHidden: gpu.buffer('dHidden', rows * dim * 4), dWeight: gpu.upload('dWeight', prior),
    };
    const scratch = createCrossEntropyScratch(gpu, P, dim, vocab, P * 37 * 4);
    await gpu.submit((enc) => {
      const common = { ...buffers, weight: wholeTable(buffers.weightBuffer, vocab, dim), targets: P, dim, vocab, scratch };
      crossEntropyForward(gpu, enc, common);
      crossEntropyBackward(gpu, enc, common);
    });
    const got = await gpu.readF32(buffers.dWeight);
    scratch.destroy();
    gpu.destroy(...Object.values(buffers));
    expect(scratch.chunk).toBeLessThan(vocab);
    expect(maxRelError(got, want)).toBeLessThan(1e-5);
  });
});
