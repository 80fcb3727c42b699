// CPU reference of kernels/finite.wgsl, on decoded values (not on bits, as the kernel is).
import { type GgmlType, bf16BitsToF32, blockBytes, blockSize, f16BitsToF32 } from '../ggml';

/** Byte offsets in a block of the f16 fields that scale it (d, and m or dmin). */
export const SCALE_FIELDS: Partial<Record<GgmlType, { name: string; offset: number }[]>> = {
  Q8_0: [{ name: 'd', offset: 0 }],
  Q4_0: [{ name: 'd', offset: 0 }],
  Q4_1: [{ name: 'd', offset: 0 }, { name: 'm', offset: 2 }],
  Q4_K: [{ name: 'd', offset: 0 }, { name: 'dmin', offset: 2 }],
  Q5_K: [{ name: 'd', offset: 0 }, { name: 'dmin', offset: 2 }],
  Q6_K: [{ name: 'd', offset: 208 }],
};

/**
 * The index of the first NaN or infinite value of an F32/F16/BF16 tensor, or of the first block of a GGML tensor
 * whose scale fields are not finite; null when every one is finite.
 */
export function firstNonFiniteRef(type: GgmlType, bytes: Uint8Array, elements: number): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === 'F32' || type === 'F16' || type === 'BF16') {
    for (let i = 0; i < elements; i++) {
      const value = type === 'F32' ? view.getFloat32(4 * i, true)
        : type === 'F16' ? f16BitsToF32(view.getUint16(2 * i, true)) : bf16BitsToF32(view.getUint16(2 * i, true));
      if (!Number.isFinite(value)) return i;
    }
    return null;
  }
  const fields = SCALE_FIELDS[type] ?? [];
  for (let b = 0; b < elements / blockSize(type); b++) {
    for (const field of fields) {
      if (!Number.isFinite(f16BitsToF32(view.getUint16(b * blockBytes(type) + field.offset, true)))) return b;
    }
  }
  return null;
}
