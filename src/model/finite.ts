// A CPU check that a tensor's raw bytes hold no NaN or infinity: every value of F32/F16/BF16 (and F64) data, and
// every scale of GGML blocks (a quantized value is an integer times its block's finite scales, so finite scales
// make finite values). Used where weights pass through the CPU: `npm run inspect --check-values`, the host-tensor
// path (CLI, reference cases, exports) and the fuzz test. The GPU loader checks on the GPU as it uploads.
import { type GgmlType, bf16BitsToF32, blockBytes, f16BitsToF32 } from '../engine/ggml';

export type FiniteCheckType = GgmlType | 'F64';

/** Where each block of a quantized type keeps its f16 scales (the layouts of src/engine/ggml.ts). */
const BLOCK_SCALES: Record<Exclude<GgmlType, 'F32' | 'F16' | 'BF16'>, readonly { at: number; name: string }[]> = {
  Q8_0: [{ at: 0, name: 'd' }],
  Q4_0: [{ at: 0, name: 'd' }],
  Q4_1: [{ at: 0, name: 'd' }, { at: 2, name: 'm' }],
  Q4_K: [{ at: 0, name: 'd' }, { at: 2, name: 'dmin' }],
  Q5_K: [{ at: 0, name: 'd' }, { at: 2, name: 'dmin' }],
  Q6_K: [{ at: 208, name: 'd' }],
};

const F16_EXPONENT = 0x7c00;
const BF16_EXPONENT = 0x7f80;
const F32_EXPONENT = 0x7f800000;
const F64_EXPONENT = 0x7ff00000;

/** The first NaN or infinity in the tensor's bytes, described, or null when every value is finite. */
export function findNonFinite(type: FiniteCheckType, bytes: Uint8Array): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'F32':
      for (let i = 0; i + 4 <= bytes.length; i += 4) {
        if ((view.getUint32(i, true) & F32_EXPONENT) === F32_EXPONENT) return `value ${i / 4} is ${view.getFloat32(i, true)}`;
      }
      return null;
    case 'F64':
      for (let i = 0; i + 8 <= bytes.length; i += 8) {
        if ((view.getUint32(i + 4, true) & F64_EXPONENT) === F64_EXPONENT) return `value ${i / 8} is ${view.getFloat64(i, true)}`;
      }
      return null;
    case 'F16':
    case 'BF16': {
      const exponent = type === 'F16' ? F16_EXPONENT : BF16_EXPONENT;
      for (let i = 0; i + 2 <= bytes.length; i += 2) {
        const bits = view.getUint16(i, true);
        if ((bits & exponent) === exponent) return `value ${i / 2} is ${type === 'F16' ? f16BitsToF32(bits) : bf16BitsToF32(bits)}`;
      }
      return null;
    }
    default: {
      const stride = blockBytes(type);
      const scales = BLOCK_SCALES[type];
      for (let o = 0; o + stride <= bytes.length; o += stride) {
        for (const { at, name } of scales) {
          const bits = view.getUint16(o + at, true);
          if ((bits & F16_EXPONENT) === F16_EXPONENT) return `block ${o / stride} has the scale ${name} = ${f16BitsToF32(bits)}`;
        }
      }
      return null;
    }
  }
}

/** Throws naming the tensor (and the value or block) when its bytes hold a NaN or an infinity. */
export function checkFinite(name: string, type: FiniteCheckType, bytes: Uint8Array): void {
  const problem = findNonFinite(type, bytes);
  if (problem !== null) throw new Error(`tensor ${name}: ${problem}; weights must be finite (the file is damaged)`);
}
