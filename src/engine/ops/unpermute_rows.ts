import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/unpermute_rows.wgsl?raw';
import { workgroupsFor } from './dispatch';

export interface UnpermuteQkRowsArgs {
  /** The raw bytes of a q_proj or k_proj weight [rows, in] as llama.cpp stores it (any GGML type). */
  source: GPUBuffer;
  /** The same bytes with the rows in HF order; a different buffer. Bytes past the tensor's end are zeroed. */
  out: GPUBuffer;
  rows: number;
  /** Bytes of one row (in values as blocks of the tensor's type); need not be a multiple of 4. */
  rowBytes: number;
  /** numHeads for q_proj, numKvHeads for k_proj. */
  heads: number;
  label?: string;
}

/** The GPU form of unpermuteQkRowBytes (src/model/gguf/spec.ts): llama.cpp's Q/K row order back to HF's. */
export function unpermuteQkRows(gpu: Gpu, encoder: GPUCommandEncoder, args: UnpermuteQkRowsArgs): void {
  const { rows, rowBytes, heads } = args;
  if (!Number.isInteger(heads) || heads <= 0 || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new Error(`unpermute: cannot split ${rows} rows into ${heads} heads of even size`);
  }
  const bytes = rows * rowBytes;
  const words = Math.ceil(bytes / 4);
  if (args.source === args.out) throw new Error('unpermute: source and out must be different buffers');
  if (args.source.size < bytes || args.out.size < words * 4) {
    throw new Error(`unpermute: ${rows} rows of ${rowBytes} bytes do not fit the buffers (${args.source.size} and ${args.out.size} bytes)`);
  }
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source),
    buffers: [args.source, args.out],
    params: new Uint32Array([rows, rowBytes, rows / heads, words]),
    workgroups: workgroupsFor(gpu, words, 64),
    label: args.label ?? 'unpermute_qk_rows',
  });
}
