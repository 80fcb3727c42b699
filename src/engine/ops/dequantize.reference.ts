// CPU reference of kernels/dequantize.wgsl: dequantize() of src/engine/ggml.ts (ggml's dequantize_row_*), on
// a range of rows. Shared by its test and the kernel benchmark.
import { type GgmlType, dequantize, tensorBytes } from '../ggml';

/** Rows [firstRow, firstRow + rows) of a GGML matrix of `cols` values per row, decoded to f32. */
export function dequantizeRowsRef(type: GgmlType, bytes: Uint8Array, cols: number, firstRow: number, rows: number): Float32Array {
  const rowBytes = tensorBytes(type, cols);
  return dequantize(type, bytes.subarray(firstRow * rowBytes, (firstRow + rows) * rowBytes), rows * cols);
}
