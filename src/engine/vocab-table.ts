// The embedding and the LM head: [vocab, dim] tables, f32 or a quantized model's GGML blocks, that outgrow one
// storage binding on large models (Llama-3-8B's is 2.1 GB in f32; WebGPU binds at most
// maxStorageBufferBindingSize bytes). Each is kept as row ranges, one buffer per range (a row is whole blocks,
// so blocks never straddle parts); the gather and the cross-entropy chunks run per range.
import { type GgmlType, tensorBytes } from './ggml';

/** Rows [firstRow, firstRow + rows) of a table, in their own buffer. */
export interface TablePart {
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
}

export interface VocabTable {
  rows: number;
  dim: number;
  /** How the parts hold the rows: f32 (absent or 'F32'), or raw GGML blocks row after row, as a GGUF file. */
  type?: GgmlType;
  parts: TablePart[];
}

/** The type a table of a checkpoint keeps on the GPU: quantized blocks stay as they are, float types become f32. */
export function tableTypeOnGpu(fileType: GgmlType): GgmlType {
  return fileType === 'F16' || fileType === 'BF16' ? 'F32' : fileType;
}

/** Bytes of one row of `dim` values of a table of this type. */
export function tableRowBytes(dim: number, type: GgmlType = 'F32'): number {
  return tensorBytes(type, dim);
}

/** Rows per part are a multiple of this (whole matmul tiles in the cross-entropy chunks), except the last. */
const ROW_ALIGN = 64;

/**
 * How a [rows, dim] table of `type` (default f32) splits into the fewest parts of at most maxBindingBytes each,
 * balanced (so each part stays well under the limit when it can). Parts start at multiples of 4 bytes (rows of
 * 2 mod 4 bytes go in pairs), so they can be copied out of one raw buffer.
 */
export function tableRowRanges(rows: number, dim: number, maxBindingBytes: number, type: GgmlType = 'F32'): { firstRow: number; rows: number }[] {
  const rowBytes = tableRowBytes(dim, type);
  const pair = rowBytes % 4 === 0 ? 1 : 2;
  let maxRows = Math.floor(maxBindingBytes / rowBytes);
  if (maxRows < rows) maxRows -= maxRows % pair;
  if (maxRows < 1) {
    const what = pair === 1 ? `a table row of ${rowBytes} bytes does` : `two table rows of ${rowBytes} bytes (parts start at multiples of 4 bytes) do`;
    throw new Error(`${what} not fit a ${maxBindingBytes}-byte binding`);
  }
  if (maxRows >= rows) return [{ firstRow: 0, rows }];
  const alignedMax = maxRows >= ROW_ALIGN ? maxRows - (maxRows % ROW_ALIGN) : maxRows;
  const parts = Math.ceil(rows / alignedMax);
  let perPart = Math.ceil(rows / parts);
  perPart += (pair - (perPart % pair)) % pair;
  if (alignedMax >= ROW_ALIGN) perPart = Math.min(alignedMax, Math.ceil(perPart / ROW_ALIGN) * ROW_ALIGN);
  const ranges: { firstRow: number; rows: number }[] = [];
  for (let firstRow = 0; firstRow < rows; firstRow += perPart) ranges.push({ firstRow, rows: Math.min(perPart, rows - firstRow) });
  return ranges;
}

/** A table held in one buffer. */
export function wholeTable(buffer: GPUBuffer, rows: number, dim: number, type: GgmlType = 'F32'): VocabTable {
  return { rows, dim, type, parts: [{ buffer, firstRow: 0, rows }] };
}

/** Whether the table holds GGML blocks rather than f32 values. */
export function isQuantTable(table: VocabTable): boolean {
  return table.type !== undefined && table.type !== 'F32';
}

/** The one buffer of a table that has not been split (full-parameter training needs it whole). */
export function singleBuffer(table: VocabTable, what: string): GPUBuffer {
  if (isQuantTable(table)) {
    throw new Error(`${what} needs the ${table.rows} x ${table.dim} table in f32, but it is kept in ${table.type} blocks: the model is quantized; train a LoRA instead`);
  }
  if (table.parts.length !== 1) {
    throw new Error(`${what} needs the ${table.rows} x ${table.dim} table in one buffer, but it is split in ${table.parts.length} parts: the model is too large for that; train a LoRA instead`);
  }
  return table.parts[0].buffer;
}
