import type { Gpu } from '../../gpu/gpu';
import kernel from '../../../kernels/cross_entropy.wgsl?raw';
import { type TablePart, type VocabTable, isQuantTable, singleBuffer } from '../vocab-table';
import { splitWorkgroups } from './dispatch';
import { matmul } from './matmul';
import { type QuantWeight, quantMatmulBackward, quantMatmulForward } from './matmul_quant';
import { type ReduceOptions, withReductions } from './reduce';

// The LM head and cross-entropy at target rows only, in vocabulary chunks: no [T, V] buffer exists.
// hidden [N, D] is the final-normed hidden state, weight [V, D] the LM head (or the tied embedding table), in
// one or more row parts; a chunk never crosses parts. A quantized table stays in its GGML blocks: the chunk
// products are the quantized matmul's forward (logits) and transposed product (dGathered).
// Target p is predicted by hidden row targetRows[p] (u32, distinct) and has label targetLabels[p] (u32 < V).

/** Scratch for up to `targets` target rows; reusable across steps with fewer targets. */
export interface CrossEntropyScratch {
  readonly targets: number;
  readonly dim: number;
  readonly vocab: number;
  /** Vocabulary columns per chunk. */
  readonly chunk: number;
  /** [P, D]: the target rows of hidden, gathered by the forward and reused by the backward. */
  readonly gathered: GPUBuffer;
  /** [P, chunk]: one chunk of logits (forward) or of dlogits (backward). */
  readonly logits: GPUBuffer;
  /** [P, 4]: running max, running sum of exp(x - max), label logit, logsumexp (final after the forward). */
  readonly stats: GPUBuffer;
  /** [P, D]: the gradient of the gathered rows. */
  readonly dGathered: GPUBuffer;
  destroy(): void;
}

const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
const MATMUL_TILE = 64;

export function createCrossEntropyScratch(
  gpu: Gpu,
  targets: number,
  dim: number,
  vocab: number,
  maxChunkBytes = DEFAULT_CHUNK_BYTES,
): CrossEntropyScratch {
  const rows = Math.max(1, targets);
  const chunk = chunkColumns(gpu, rows, vocab, maxChunkBytes);
  const gathered = gpu.buffer('cross-entropy gathered', rows * dim * 4);
  const logits = gpu.buffer('cross-entropy logits chunk', rows * chunk * 4);
  const stats = gpu.buffer('cross-entropy stats', rows * 4 * 4);
  const dGathered = gpu.buffer('cross-entropy dGathered', rows * dim * 4);
  return {
    targets, dim, vocab, chunk, gathered, logits, stats, dGathered,
    destroy: () => gpu.destroy(gathered, logits, stats, dGathered),
  };
}

/** The widest chunk whose [rows, chunk] f32 block fits in maxChunkBytes and in one binding. */
function chunkColumns(gpu: Gpu, rows: number, vocab: number, maxChunkBytes: number): number {
  const maxBytes = Math.min(maxChunkBytes, gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  return crossEntropyChunkColumns(rows, vocab, maxBytes);
}

/** Vocabulary columns per chunk for `rows` target rows when a [rows, chunk] f32 block may take maxBytes. */
export function crossEntropyChunkColumns(rows: number, vocab: number, maxBytes = DEFAULT_CHUNK_BYTES): number {
  let columns = Math.min(vocab, Math.floor(maxBytes / (4 * rows)));
  if (columns < 1) {
    throw new Error(`cross-entropy: ${rows} target rows do not fit one logits column in ${maxBytes} bytes`);
  }
  if (columns < vocab && columns >= MATMUL_TILE) columns -= columns % MATMUL_TILE; // whole matmul tiles
  return columns;
}

export interface CrossEntropyForwardArgs {
  hidden: GPUBuffer;
  weight: VocabTable;
  targetRows: GPUBuffer;
  targetLabels: GPUBuffer;
  targets: number;
  dim: number;
  vocab: number;
  scratch: CrossEntropyScratch;
  /** f32 [P]: logsumexp(logits_p) - logits_p[label_p]. */
  tokenLoss: GPUBuffer;
  /** The log-sum-exp's reductions (tests run both paths). */
  reduce?: ReduceOptions;
  label?: string;
}

/** tokenLoss[p] = logsumexp(weight · hidden[targetRows[p]]) - (weight · hidden[targetRows[p]])[targetLabels[p]]. */
export function crossEntropyForward(gpu: Gpu, encoder: GPUCommandEncoder, args: CrossEntropyForwardArgs): void {
  const { targets, dim, vocab, scratch } = args;
  checkScratch(scratch, targets, dim, vocab);
  checkTable(args.weight, vocab, dim);
  if (targets === 0) return;
  const label = args.label ?? 'cross-entropy';
  const source = withReductions(gpu, kernel, args.reduce);
  const workgroups = splitWorkgroups(gpu, targets); // one workgroup per target row
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'gather_rows'),
    buffers: [args.hidden, args.targetRows, scratch.gathered],
    params: params(targets, dim, 0, 0, false, false),
    workgroups,
    label: `${label} gather`,
  });
  forEachChunk(args.weight, scratch.chunk, (part, start, width, first, last) => {
    chunkLogits(gpu, encoder, args.weight, part, scratch, targets, dim, start, width, `${label} logits`);
    gpu.run(encoder, {
      pipeline: gpu.pipeline(source, 'online_logsumexp'),
      buffers: [scratch.logits, args.targetLabels, scratch.stats, args.tokenLoss],
      params: params(targets, dim, start, width, first, last),
      workgroups,
      label: `${label} logsumexp`,
    });
  });
}

export interface CrossEntropyBackwardArgs {
  hidden: GPUBuffer;
  weight: VocabTable;
  targetRows: GPUBuffer;
  targetLabels: GPUBuffer;
  /** f32 [P]: dLoss/dtokenLoss[p]; 0 ignores a target. */
  targetWeights: GPUBuffer;
  targets: number;
  dim: number;
  vocab: number;
  scratch: CrossEntropyScratch;
  /** [N, D]: rows targetRows[p] get += their gradient; other rows are untouched. */
  dHidden: GPUBuffer;
  /** [V, D], optional: += the gradient of the LM head weight (full-parameter training). */
  dWeight?: GPUBuffer;
  reduce?: ReduceOptions;
  label?: string;
}

/**
 * dHidden[targetRows[p]] += sum over chunks of ((softmax - onehot) * targetWeights[p]) · W_chunk.
 * Uses the gathered rows and logsumexp that crossEntropyForward left in the same scratch.
 */
export function crossEntropyBackward(gpu: Gpu, encoder: GPUCommandEncoder, args: CrossEntropyBackwardArgs): void {
  const { targets, dim, vocab, scratch } = args;
  checkScratch(scratch, targets, dim, vocab);
  checkTable(args.weight, vocab, dim);
  const dWeight = args.dWeight;
  if (dWeight) singleBuffer(args.weight, 'the LM head weight gradient');
  if (targets === 0) return;
  const label = args.label ?? 'cross-entropy backward';
  const source = withReductions(gpu, kernel, args.reduce);
  const workgroups = splitWorkgroups(gpu, targets); // one workgroup per target row
  forEachChunk(args.weight, scratch.chunk, (part, start, width, first) => {
    chunkLogits(gpu, encoder, args.weight, part, scratch, targets, dim, start, width, `${label} logits`);
    gpu.run(encoder, {
      pipeline: gpu.pipeline(source, 'softmax_gradient'),
      buffers: [scratch.logits, args.targetLabels, scratch.stats, args.targetWeights],
      params: params(targets, dim, start, width, first, false),
      workgroups,
      label: `${label} dlogits`,
    });
    // dGathered (+)= dlogits [P, width] · W[start .. start + width, :]
    if (isQuantTable(args.weight)) {
      quantMatmulBackward(gpu, encoder, {
        dy: scratch.logits, w: partWeight(args.weight, part), wRows: { firstRow: start - part.firstRow, rows: width },
        dx: scratch.dGathered, rows: targets, beta: first ? 0 : 1, label: `${label} dGathered`,
      });
    } else {
      matmul(gpu, encoder, {
        a: scratch.logits, b: part.buffer, c: scratch.dGathered,
        M: targets, N: dim, K: width, ldb: dim, bOffset: (start - part.firstRow) * dim, beta: first ? 0 : 1,
        label: `${label} dGathered`,
      });
    }
    // dW[start .. start + width, :] += dlogits^T [width, P] · gathered [P, D]
    if (dWeight) {
      matmul(gpu, encoder, {
        a: scratch.logits, b: scratch.gathered, c: dWeight, M: width, N: dim, K: targets,
        transA: true, lda: width, cOffset: start * dim, beta: 1, label: `${label} dWeight`,
      });
    }
  });
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'scatter_add_rows'),
    buffers: [scratch.dGathered, args.targetRows, args.dHidden],
    params: params(targets, dim, 0, 0, false, false),
    workgroups,
    label: `${label} scatter`,
  });
}

export interface LmHeadLogitsArgs {
  hidden: GPUBuffer;
  weight: VocabTable;
  rows: number;
  dim: number;
  vocab: number;
  /** f32 [rows, V]. */
  logits: GPUBuffer;
  label?: string;
}

/** Full logits = hidden · weight^T, for evaluation and reference checks on small models. */
export function lmHeadLogits(gpu: Gpu, encoder: GPUCommandEncoder, args: LmHeadLogitsArgs): void {
  checkTable(args.weight, args.vocab, args.dim);
  if (args.rows === 0) return;
  for (const part of args.weight.parts) {
    if (isQuantTable(args.weight)) {
      quantMatmulForward(gpu, encoder, {
        x: args.hidden, w: partWeight(args.weight, part), y: args.logits, rows: args.rows, ldy: args.vocab, yOffset: part.firstRow,
        label: args.label ?? 'lm head logits',
      });
      continue;
    }
    matmul(gpu, encoder, {
      a: args.hidden, b: part.buffer, c: args.logits,
      M: args.rows, N: part.rows, K: args.dim, transB: true, ldc: args.vocab, cOffset: part.firstRow,
      label: args.label ?? 'lm head logits',
    });
  }
}

/** logits [P, width] (packed) = gathered [P, D] · W[start .. start + width, :]^T, rows start.. in `part`. */
function chunkLogits(
  gpu: Gpu, encoder: GPUCommandEncoder, table: VocabTable, part: TablePart, scratch: CrossEntropyScratch,
  targets: number, dim: number, start: number, width: number, label: string,
): void {
  if (isQuantTable(table)) {
    quantMatmulForward(gpu, encoder, {
      x: scratch.gathered, w: partWeight(table, part), wRows: { firstRow: start - part.firstRow, rows: width }, y: scratch.logits, rows: targets, label,
    });
    return;
  }
  matmul(gpu, encoder, {
    a: scratch.gathered, b: part.buffer, c: scratch.logits,
    M: targets, N: width, K: dim, transB: true, ldb: dim, bOffset: (start - part.firstRow) * dim,
    label,
  });
}

/** One part of a quantized table as the quantized matmul's weight [part rows, dim]. */
function partWeight(table: VocabTable, part: TablePart): QuantWeight {
  return { kind: 'quant', type: table.type!, buffer: part.buffer, outFeatures: part.rows, inFeatures: table.dim };
}

/** Vocabulary chunks [start, start + width) of at most `chunk` rows, each inside one part of the table. */
function forEachChunk(
  table: VocabTable, chunk: number,
  body: (part: TablePart, start: number, width: number, first: boolean, last: boolean) => void,
): void {
  for (const part of table.parts) {
    const end = part.firstRow + part.rows;
    for (let start = part.firstRow; start < end; start += chunk) {
      const width = Math.min(chunk, end - start);
      body(part, start, width, start === 0, start + width === table.rows);
    }
  }
}

function checkTable(table: VocabTable, vocab: number, dim: number): void {
  const covered = table.parts.every((part, i) => part.firstRow === (i === 0 ? 0 : table.parts[i - 1].firstRow + table.parts[i - 1].rows));
  const last = table.parts[table.parts.length - 1];
  if (table.rows !== vocab || table.dim !== dim || !covered || !last || last.firstRow + last.rows !== vocab) {
    throw new Error(`cross-entropy: the LM head table (${table.rows} x ${table.dim} in ${table.parts.length} parts) does not cover vocab ${vocab} x dim ${dim} in order`);
  }
}

function checkScratch(scratch: CrossEntropyScratch, targets: number, dim: number, vocab: number): void {
  if (targets > scratch.targets || dim !== scratch.dim || vocab !== scratch.vocab) {
    throw new Error(
      `cross-entropy: scratch is for ${scratch.targets} targets, dim ${scratch.dim}, vocab ${scratch.vocab}; ` +
        `called with ${targets} targets, dim ${dim}, vocab ${vocab}`,
    );
  }
}

function params(
  targets: number, dim: number, chunkStart: number, chunkWidth: number, first: boolean, last: boolean,
): Uint32Array {
  return new Uint32Array([targets, dim, chunkStart, chunkWidth, first ? 1 : 0, last ? 1 : 0, 0, 0]);
}
