import type { Gpu } from '../../gpu/gpu';
import { GGML_TYPE_ID, tensorBytes } from '../ggml';
import source from '../../../kernels/quantize.wgsl?raw';
import { workgroupsFor } from './dispatch';

export type GpuQuantType = 'Q8_0' | 'Q4_0';

export interface QuantizeArgs {
  /** f32 [rows, cols] */
  source: GPUBuffer;
  type: GpuQuantType;
  /** The GGML blocks, row after row: at least quantizedBytes(type, rows, cols), rounded up to 4. */
  out: GPUBuffer;
  rows: number;
  /** A multiple of 32. */
  cols: number;
  label?: string;
}

/** Bytes of a [rows, cols] tensor quantized on the GPU, padded to a whole number of 4-byte words. */
export function quantizedBytes(type: GpuQuantType, rows: number, cols: number): number {
  return Math.ceil(tensorBytes(type, rows * cols) / 4) * 4;
}

/**
 * Quantizes f32 values into GGML blocks (exactly the layout a GGUF file holds) as ggml's reference
 * quantizer does; `quantize()` on the CPU gives the same bytes but where float rounding ties differ.
 */
export function quantizeOnGpu(gpu: Gpu, encoder: GPUCommandEncoder, args: QuantizeArgs): void {
  const { type, rows, cols } = args;
  if (cols % 32 !== 0) throw new Error(`quantize to ${type}: rows of ${cols} values are not whole blocks of 32`);
  const bytes = quantizedBytes(type, rows, cols);
  if (args.out.size < bytes) throw new Error(`quantize to ${type}: [${rows}, ${cols}] needs ${bytes} bytes, the output has ${args.out.size}`);
  const blocks = (rows * cols) / 32;
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'main', { TYPE: GGML_TYPE_ID[type] }),
    buffers: [args.source, args.out],
    params: new Uint32Array([blocks]),
    workgroups: workgroupsFor(gpu, Math.ceil(blocks / 2), 64),
    label: args.label ?? `quantize.${type}`,
  });
}
