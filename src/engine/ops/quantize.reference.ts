// CPU reference of kernels/quantize.wgsl: the CPU encoder quantize() of src/engine/ggml.ts (ggml's reference
// quantizer), which the GPU matches but where x / d sits on a rounding tie. Shared by the kernel benchmark
// (its test compares the blocks one by one).
import { dequantize, quantize } from '../ggml';
import type { GpuQuantType } from './quantize';

/** Distance of x * (1 / d) from the nearest k + 0.5, with d the f32 block scale the encoders compute. */
function tieDistance(type: GpuQuantType, block: Float32Array, x: number): number {
  let max = 0;
  for (const value of block) if (Math.abs(value) > Math.abs(max)) max = value;
  const d = Math.fround(type === 'Q8_0' ? Math.abs(max) / 127 : max / -8);
  if (d === 0) return 0.5;
  return Math.abs((Math.abs(Math.fround(x * Math.fround(1 / d))) % 1) - 0.5);
}

/**
 * max |a - b| / max |b| of the GPU's blocks decoded (a) against the CPU encoder's decoded (b), over the values
 * that are not within 1e-3 of a rounding tie (there either rounding is right). 0 when they agree.
 */
export function quantizeError(type: GpuQuantType, x: Float32Array, gpuBytes: Uint8Array): number {
  const got = dequantize(type, gpuBytes, x.length);
  const want = dequantize(type, quantize(type, x), x.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    if (got[i] === want[i]) continue;
    const block = x.subarray(i - (i % 32), i - (i % 32) + 32);
    if (tieDistance(type, block, x[i]) < 1e-3) continue;
    diff = Number.isNaN(got[i]) ? Infinity : Math.max(diff, Math.abs(got[i] - want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
