import type { Gpu } from '../../gpu/gpu';
import { GGML_TYPE_ID, type GgmlType, blockBytes, blockSize } from '../ggml';
import blocks from '../../../kernels/ggml_blocks.wgsl?raw';
import kernel from '../../../kernels/dequantize.wgsl?raw';
import { workgroupsFor } from './dispatch';

const source = `${kernel}\n${blocks}`;

export interface DequantizeRowsArgs {
  type: GgmlType;
  /** The raw bytes of a GGML matrix [R, cols], row after row (as a GGUF file and the quant matmul hold them). */
  encoded: GPUBuffer;
  /** Values per row: a whole number of the type's blocks. */
  cols: number;
  firstRow: number;
  rows: number;
  /** f32 [rows, cols] */
  out: GPUBuffer;
  label?: string;
}

/** Bytes of one row of `cols` values stored as `type`. */
export function encodedRowBytes(type: GgmlType, cols: number): number {
  if (!Number.isInteger(cols) || cols <= 0 || cols % blockSize(type) !== 0) {
    throw new Error(`${type} rows hold whole blocks of ${blockSize(type)} values; ${cols} values are not`);
  }
  return (cols / blockSize(type)) * blockBytes(type);
}

/** out [rows, cols] = rows [firstRow, firstRow + rows) of the encoded matrix, decoded to f32 exactly. */
export function dequantizeRows(gpu: Gpu, encoder: GPUCommandEncoder, args: DequantizeRowsArgs): void {
  const { type, cols, firstRow, rows } = args;
  const rowBytes = encodedRowBytes(type, cols);
  if (!Number.isInteger(firstRow) || !Number.isInteger(rows) || firstRow < 0 || rows < 0) {
    throw new Error(`dequantize ${type}: bad row range [${firstRow}, ${firstRow + rows})`);
  }
  const need = (firstRow + rows) * rowBytes;
  if (args.encoded.size < need) {
    throw new Error(`dequantize ${type}: rows up to ${firstRow + rows} of ${cols} values need ${need} bytes, the buffer has ${args.encoded.size}`);
  }
  if (args.out.size < rows * cols * 4) {
    throw new Error(`dequantize ${type}: [${rows}, ${cols}] f32 needs ${rows * cols * 4} bytes, the output has ${args.out.size}`);
  }
  if (rows === 0) return;
  const groups = Math.ceil(cols / 8);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'main', { TYPE: GGML_TYPE_ID[type] }),
    buffers: [args.encoded, args.out],
    params: new Uint32Array([cols, firstRow, rows, rowBytes, groups]),
    workgroups: workgroupsFor(gpu, rows * groups, 64),
    label: args.label ?? `dequantize.${type}`,
  });
}

/**
 * A new f32 buffer [rows, cols] holding rows [firstRow, firstRow + rows) of a raw tensor on the GPU (F32 rows
 * are copied, other types decoded). The work is submitted; the caller may destroy `encoded` right after.
 */
export function f32RowsOf(
  gpu: Gpu,
  label: string,
  tensor: { type: GgmlType; encoded: GPUBuffer; cols: number },
  firstRow: number,
  rows: number,
): GPUBuffer {
  const { type, encoded, cols } = tensor;
  const out = gpu.buffer(label, rows * cols * 4);
  try {
    const encoder = gpu.device.createCommandEncoder();
    if (type === 'F32') {
      if (encoded.size < (firstRow + rows) * cols * 4) {
        throw new Error(`${label}: F32 rows up to ${firstRow + rows} of ${cols} values do not fit the ${encoded.size}-byte buffer`);
      }
      encoder.copyBufferToBuffer(encoded, firstRow * cols * 4, out, 0, rows * cols * 4);
    } else {
      dequantizeRows(gpu, encoder, { type, encoded, cols, firstRow, rows, out, label: `${label}.dequantize` });
    }
    gpu.device.queue.submit([encoder.finish()]);
  } catch (error) {
    gpu.destroy(out);
    throw error;
  }
  return out;
}
