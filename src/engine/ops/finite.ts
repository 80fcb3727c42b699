import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/finite.wgsl?raw';
import { GGML_TYPE_ID, type GgmlType, blockBytes, blockSize } from '../ggml';
import { workgroupsFor } from './dispatch';

/** Units (values, F16/BF16 words or blocks) each thread of kernels/finite.wgsl checks. */
const UNITS_PER_THREAD = 16;

/** first_bad's value for a tensor with no NaN or infinity. */
export const ALL_FINITE = 0xffffffff;

export interface FindNonFiniteArgs {
  /** The tensor's bytes as its file stores them. */
  buffer: GPUBuffer;
  /** Where the tensor starts in the buffer; a multiple of 4. */
  byteOffset?: number;
  type: GgmlType;
  elements: number;
  /** u32 per tensor, ALL_FINITE before the first check; the kernel lowers entry `slot` to the first bad index. */
  firstBad: GPUBuffer;
  slot: number;
  label?: string;
}

/**
 * Records in firstBad[slot] the index of the tensor's first NaN or infinite value (F32/F16/BF16), or of its first
 * block whose f16 scale or min is (GGML blocks), unless a lower one is there already. Nothing is read back: the
 * caller reads firstBad once for many tensors.
 */
export function findNonFinite(gpu: Gpu, encoder: GPUCommandEncoder, args: FindNonFiniteArgs): void {
  const { type, elements, slot } = args;
  const byteOffset = args.byteOffset ?? 0;
  const perBlock = blockSize(type);
  if (!Number.isInteger(elements) || elements < 0 || elements % perBlock !== 0) {
    throw new Error(`findNonFinite: ${elements} values of ${type} are not a whole number of blocks of ${perBlock}`);
  }
  if (byteOffset % 4 !== 0) throw new Error(`findNonFinite: the tensor starts at byte ${byteOffset}, not a multiple of 4`);
  const bytes = (elements / perBlock) * blockBytes(type);
  if (byteOffset + Math.ceil(bytes / 4) * 4 > args.buffer.size) {
    throw new Error(`findNonFinite: ${bytes} bytes at ${byteOffset} do not fit the ${args.buffer.size}-byte buffer`);
  }
  if (!Number.isInteger(slot) || slot < 0 || (slot + 1) * 4 > args.firstBad.size) {
    throw new Error(`findNonFinite: slot ${slot} is outside the ${args.firstBad.size / 4} entries of firstBad`);
  }
  const units = type === 'F16' || type === 'BF16' ? Math.ceil(elements / 2) : elements / perBlock;
  if (units === 0) return;
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'main', { TYPE: GGML_TYPE_ID[type] }),
    buffers: [args.buffer, args.firstBad],
    params: new Uint32Array([byteOffset, units, elements >>> 0, slot]),
    workgroups: workgroupsFor(gpu, units, 256 * UNITS_PER_THREAD),
    label: args.label ?? 'find_non_finite',
  });
}
