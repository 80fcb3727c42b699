// The GPU steps of loading a checkpoint, between its raw tensors and Model.fromGpuTensors: q/k rows back in
// HF order, and F32/F16/BF16 linear weights quantized as they arrive. Each step submits its work and returns
// a new tensor; the caller frees the input once it no longer needs it.
import type { Gpu } from '../gpu/gpu';
import { tensorBytes } from './ggml';
import { f32RowsOf } from './ops/dequantize';
import { type GpuQuantType, quantizeOnGpu, quantizedBytes } from './ops/quantize';
import { unpermuteQkRows } from './ops/unpermute_rows';
import type { GpuTensor } from './weights';

/** The types a linear weight can be quantized to while loading. */
export type QuantizeOnLoad = GpuQuantType;

/** The q/k weight `t` (rows in llama.cpp's interleaved RoPE order over `heads`) with its rows in HF order. */
export function unpermuteQk(gpu: Gpu, name: string, t: GpuTensor, heads: number): GpuTensor {
  const [rows, cols] = t.shape;
  const rowBytes = tensorBytes(t.type, cols);
  const out = gpu.buffer(name, rows * rowBytes);
  try {
    const encoder = gpu.device.createCommandEncoder();
    unpermuteQkRows(gpu, encoder, { source: t.buffer, out, rows, rowBytes, heads, label: `unpermute ${name}` });
    gpu.device.queue.submit([encoder.finish()]);
  } catch (error) {
    gpu.destroy(out);
    throw error;
  }
  return { ...t, buffer: out };
}

/**
 * The F32/F16/BF16 linear weight `t` quantized to `type`, or null where there is nothing to do: a type that is
 * already quantized, or rows that are not whole blocks of 32 (those stay as they are).
 */
export function quantizeLinear(gpu: Gpu, name: string, t: GpuTensor, type: QuantizeOnLoad): GpuTensor | null {
  const [rows, cols] = t.shape;
  if (!(t.type === 'F32' || t.type === 'F16' || t.type === 'BF16') || cols % 32 !== 0) return null;
  const values = t.type === 'F32' ? t.buffer : f32RowsOf(gpu, `${name}.f32`, { type: t.type, encoded: t.buffer, cols }, 0, rows);
  let out: GPUBuffer | null = null;
  try {
    out = gpu.buffer(name, quantizedBytes(type, rows, cols));
    const encoder = gpu.device.createCommandEncoder();
    quantizeOnGpu(gpu, encoder, { source: values, type, out, rows, cols, label: `quantize ${name}` });
    gpu.device.queue.submit([encoder.finish()]);
  } catch (error) {
    if (out) gpu.destroy(out);
    throw error;
  } finally {
    if (values !== t.buffer) gpu.destroy(values);
  }
  return { type, shape: t.shape, buffer: out };
}
