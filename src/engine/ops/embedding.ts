import type { Gpu } from '../../gpu/gpu';
import { GGML_TYPE_ID } from '../ggml';
import blocks from '../../../kernels/ggml_blocks.wgsl?raw';
import kernel from '../../../kernels/embedding.wgsl?raw';
import { type VocabTable, isQuantTable, tableRowBytes } from '../vocab-table';
import { splitWorkgroups } from './dispatch';

const source = `${kernel}\n${blocks}`;
const COLS_PER_WORKGROUP = 256;
/** forward_quant: 8 values per thread. */
const QUANT_COLS_PER_WORKGROUP = 8 * 256;

/**
 * The batch's rows grouped by token id (a CSR), for the deterministic embedding gradient.
 * Group g is token tokens[g], held by rows rowList[offsets[g] .. offsets[g + 1]] in ascending order.
 * The caller owns the buffers and frees them with destroy() once the commands using them have been submitted.
 */
export interface EmbeddingGradGroups {
  /** u32 [groupCount]: the distinct token ids, ascending. */
  tokens: GPUBuffer;
  /** u32 [groupCount + 1]. */
  offsets: GPUBuffer;
  /** u32 [rowCount]: row indices into dOut. */
  rowList: GPUBuffer;
  groupCount: number;
  rowCount: number;
  destroy(): void;
}

/** The CSR of rows by token, built on the CPU (O(rows log rows)) and uploaded. */
export function groupRowsByToken(gpu: Gpu, ids: Uint32Array): EmbeddingGradGroups {
  const rowsByToken = new Map<number, number[]>();
  ids.forEach((token, row) => {
    const rows = rowsByToken.get(token);
    if (rows) rows.push(row);
    else rowsByToken.set(token, [row]);
  });
  const tokens = Uint32Array.from(rowsByToken.keys()).sort();
  const offsets = new Uint32Array(tokens.length + 1);
  const rowList = new Uint32Array(ids.length);
  tokens.forEach((token, g) => {
    const rows = rowsByToken.get(token) as number[];
    rowList.set(rows, offsets[g]);
    offsets[g + 1] = offsets[g] + rows.length;
  });
  const buffers = {
    tokens: gpu.upload('embedding.groups.tokens', tokens),
    offsets: gpu.upload('embedding.groups.offsets', offsets),
    rowList: gpu.upload('embedding.groups.rowList', rowList),
  };
  return {
    ...buffers,
    groupCount: tokens.length,
    rowCount: ids.length,
    destroy: () => gpu.destroy(buffers.tokens, buffers.offsets, buffers.rowList),
  };
}

/**
 * out[n, :] = table[ids[n], :]. ids: u32 [rows]; table: [vocab, dim] in one or more row parts, f32 or GGML
 * blocks (each token's row decoded); out: f32 [rows, dim]. An id >= vocab gives a zero row.
 */
export function embeddingForward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: { ids: GPUBuffer; table: VocabTable; out: GPUBuffer; rows: number; label?: string },
): void {
  const { dim, type } = args.table;
  const quant = isQuantTable(args.table);
  const colTiles = Math.ceil(dim / (quant ? QUANT_COLS_PER_WORKGROUP : COLS_PER_WORKGROUP));
  const rowBytes = quant ? tableRowBytes(dim, type) : 0;
  const pipeline = quant ? gpu.pipeline(source, 'forward_quant', { TYPE: GGML_TYPE_ID[type!] }) : gpu.pipeline(source, 'forward');
  args.table.parts.forEach((part, i) => {
    gpu.run(encoder, {
      pipeline,
      buffers: [args.ids, part.buffer, args.out],
      params: new Uint32Array([args.rows, dim, colTiles, part.firstRow, i === 0 ? 1 : 0, part.rows, rowBytes, 0]),
      workgroups: splitWorkgroups(gpu, args.rows * colTiles),
      label: args.label ?? 'embeddingForward',
    });
  });
}

/**
 * dTable[token, :] += sum of dOut[row, :] over the rows holding token; only tokens in `groups` are touched.
 * dOut: f32 [rows, dim]; dTable: f32 [vocab, dim]. Deterministic (no atomics).
 */
export function embeddingBackward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: { dOut: GPUBuffer; groups: EmbeddingGradGroups; dTable: GPUBuffer; dim: number; label?: string },
): void {
  const { groups } = args;
  const colTiles = Math.ceil(args.dim / COLS_PER_WORKGROUP);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'backward'),
    buffers: [args.dOut, groups.tokens, groups.offsets, groups.rowList, args.dTable],
    params: new Uint32Array([groups.groupCount, args.dim, colTiles, 0, 0, 0, 0, 0]),
    workgroups: splitWorkgroups(gpu, groups.groupCount * colTiles),
    label: args.label ?? 'embeddingBackward',
  });
}
