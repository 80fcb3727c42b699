// The embedding and the LM head: f32 [vocab, dim] tables that outgrow one storage binding on large models
// (Llama-3-8B's is 2.1 GB; WebGPU binds at most maxStorageBufferBindingSize bytes). Each is kept as row
// ranges, one buffer per range; the gather and the cross-entropy chunks run per range.

/** Rows [firstRow, firstRow + rows) of a table, in their own buffer. */
export interface TablePart {
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
}

export interface VocabTable {
  rows: number;
  dim: number;
  parts: TablePart[];
}

/** Rows per part are a multiple of this (whole matmul tiles in the cross-entropy chunks), except the last. */
const ROW_ALIGN = 64;

/**
 * How a [rows, dim] f32 table splits into the fewest parts of at most maxBindingBytes each, balanced (so each
 * part stays well under the limit when it can).
 */
export function tableRowRanges(rows: number, dim: number, maxBindingBytes: number): { firstRow: number; rows: number }[] {
  const rowBytes = dim * 4;
  const maxRows = Math.floor(maxBindingBytes / rowBytes);
  if (maxRows < 1) throw new Error(`a table row of ${rowBytes} bytes does not fit a ${maxBindingBytes}-byte binding`);
  if (maxRows >= rows) return [{ firstRow: 0, rows }];
  const alignedMax = maxRows >= ROW_ALIGN ? maxRows - (maxRows % ROW_ALIGN) : maxRows;
  const parts = Math.ceil(rows / alignedMax);
  let perPart = Math.ceil(rows / parts);
  if (alignedMax >= ROW_ALIGN) perPart = Math.min(alignedMax, Math.ceil(perPart / ROW_ALIGN) * ROW_ALIGN);
  const ranges: { firstRow: number; rows: number }[] = [];
  for (let firstRow = 0; firstRow < rows; firstRow += perPart) ranges.push({ firstRow, rows: Math.min(perPart, rows - firstRow) });
  return ranges;
}

/** A table held in one buffer. */
export function wholeTable(buffer: GPUBuffer, rows: number, dim: number): VocabTable {
  return { rows, dim, parts: [{ buffer, firstRow: 0, rows }] };
}

/** The one buffer of a table that has not been split (full-parameter training needs it whole). */
export function singleBuffer(table: VocabTable, what: string): GPUBuffer {
  if (table.parts.length !== 1) {
    throw new Error(`${what} needs the ${table.rows} x ${table.dim} table in one buffer, but it is split in ${table.parts.length} parts: the model is too large for that; train a LoRA instead`);
  }
  return table.parts[0].buffer;
}
