// Linear layers: the frozen base product (the one seam where quantized weights plug in) and LoRA on top.
import type { Gpu } from '../gpu/gpu';
import { matmul } from './ops/matmul';
import { type MatmulPrecision, type QuantWeight, halfKernel, quantMatmulBackward, quantMatmulForward } from './ops/matmul_quant';

/** A frozen base weight W [out, in] in f32. */
export interface F32Weight {
  kind: 'f32';
  buffer: GPUBuffer;
  outFeatures: number;
  inFeatures: number;
}

/** A frozen base weight W [out, in]: f32, or GGML blocks dequantized inside the products. */
export type BaseWeight = F32Weight | QuantWeight;

/**
 * W as GGML blocks: quantized weights are, and an f32 weight is one F32 row after another, which the quantized
 * products read too. f16 precision takes that path where a half-precision kernel passed its self-test.
 */
function asBlocks(gpu: Gpu, w: BaseWeight, precision: MatmulPrecision): QuantWeight | null {
  if (w.kind === 'quant') return w;
  return precision === 'f16' && halfKernel(gpu) ? { ...w, kind: 'quant', type: 'F32' } : null;
}

/** y = x W^T (+ beta * y). x [rows, in], y [rows, out]. */
export function baseForward(
  gpu: Gpu, encoder: GPUCommandEncoder, w: BaseWeight, x: GPUBuffer, y: GPUBuffer, rows: number, beta = 0, label = 'linear', precision: MatmulPrecision = 'f32',
): void {
  const blocks = asBlocks(gpu, w, precision);
  if (blocks) {
    quantMatmulForward(gpu, encoder, { x, w: blocks, y, rows, beta, precision, label });
    return;
  }
  matmul(gpu, encoder, { a: x, b: w.buffer, c: y, M: rows, N: w.outFeatures, K: w.inFeatures, transB: true, beta, label });
}

/** dx = dy W (+ beta * dx). dy [rows, out], dx [rows, in]. */
export function baseBackward(
  gpu: Gpu, encoder: GPUCommandEncoder, w: BaseWeight, dy: GPUBuffer, dx: GPUBuffer, rows: number, beta = 0, label = 'linear.dx', precision: MatmulPrecision = 'f32',
): void {
  const blocks = asBlocks(gpu, w, precision);
  if (blocks) {
    quantMatmulBackward(gpu, encoder, { dy, w: blocks, dx, rows, beta, precision, label });
    return;
  }
  matmul(gpu, encoder, { a: dy, b: w.buffer, c: dx, M: rows, N: w.inFeatures, K: w.outFeatures, beta, label });
}

/** Where one LoRA pair lives in the adapter's flat buffers (element offsets). */
export interface LoraSlot {
  rank: number;
  scaling: number;
  aOffset: number; // A [rank, in]
  bOffset: number; // B [out, rank]
  params: GPUBuffer;
  grads: GPUBuffer;
}

/** One adapted linear layer in one pass: its weights and the activations it reads and writes. */
export interface LinearCall {
  w: BaseWeight;
  lora: LoraSlot | null;
  /** Input [rows, in]. */
  x: GPUBuffer;
  /** LoRA h = x A^T [rows, rank], kept from the forward for the backward; null without LoRA. */
  h: GPUBuffer | null;
  rows: number;
  /** The base product's precision: 'f16' where the run keeps f16 activations (see quantMatmulKernel). */
  precision: MatmulPrecision;
  label: string;
}

/** y (+)= x W^T + s (x A^T) B^T, keeping h. */
export function loraLinearForward(gpu: Gpu, encoder: GPUCommandEncoder, call: LinearCall, y: GPUBuffer, accumulate: boolean): void {
  const { w, lora, x, h, rows, label } = call;
  baseForward(gpu, encoder, w, x, y, rows, accumulate ? 1 : 0, label, call.precision);
  if (!lora || !h) return;
  loraHidden(gpu, encoder, call);
  const { rank: r, params } = lora;
  matmul(gpu, encoder, {
    a: h, b: params, bOffset: lora.bOffset, c: y, M: rows, N: w.outFeatures, K: r, transB: true,
    alpha: lora.scaling, beta: 1, label: `${label}.lora_b`,
  });
}

/** Only the LoRA h = x A^T that the backward reads (a recomputation that needs no output); nothing without LoRA. */
export function loraHidden(gpu: Gpu, encoder: GPUCommandEncoder, call: LinearCall): void {
  const { w, lora, x, h, rows, label } = call;
  if (!lora || !h) return;
  matmul(gpu, encoder, { a: x, b: lora.params, bOffset: lora.aOffset, c: h, M: rows, N: lora.rank, K: w.inFeatures, transB: true, label: `${label}.lora_a` });
}

export interface LinearGradients {
  /** Gradient of the output [rows, out]. */
  dy: GPUBuffer;
  /** Gradient of the input [rows, in]: written, or added to with accumulateDx. */
  dx: GPUBuffer;
  accumulateDx: boolean;
  /** Scratch [rows, rank]. */
  dh: GPUBuffer;
  /** [out, in], full-parameter training only: += dy^T x. */
  dW: GPUBuffer | null;
}

/**
 * dx (+)= dy W + s (dy B) A; dA += (s dy B)^T x and dB += s dy^T h into the adapter's gradients. Everything that
 * reads x runs before dx is written, so dx may be x's own buffer (the MLP writes d act over act).
 */
export function loraLinearBackward(gpu: Gpu, encoder: GPUCommandEncoder, call: LinearCall, g: LinearGradients): void {
  const { w, lora, x, h, rows, label } = call;
  const { dy, dx, dh } = g;
  if (g.dW) {
    matmul(gpu, encoder, { a: dy, b: x, c: g.dW, M: w.outFeatures, N: w.inFeatures, K: rows, transA: true, beta: 1, label: `${label}.dW` });
  }
  if (!lora || !h) {
    baseBackward(gpu, encoder, w, dy, dx, rows, g.accumulateDx ? 1 : 0, `${label}.dx`, call.precision);
    return;
  }
  const { rank: r, params, grads, scaling: s } = lora;
  const out = w.outFeatures;
  const inF = w.inFeatures;
  // dB [out, r] += s dy^T h
  matmul(gpu, encoder, { a: dy, b: h, c: grads, cOffset: lora.bOffset, M: out, N: r, K: rows, transA: true, alpha: s, beta: 1, label: `${label}.lora_dB` });
  // dh [rows, r] = s dy B
  matmul(gpu, encoder, { a: dy, b: params, bOffset: lora.bOffset, c: dh, M: rows, N: r, K: out, alpha: s, label: `${label}.lora_dh` });
  // dA [r, in] += dh^T x
  matmul(gpu, encoder, { a: dh, b: x, c: grads, cOffset: lora.aOffset, M: r, N: inF, K: rows, transA: true, beta: 1, label: `${label}.lora_dA` });
  baseBackward(gpu, encoder, w, dy, dx, rows, g.accumulateDx ? 1 : 0, `${label}.dx`, call.precision);
  // dx += dh A
  matmul(gpu, encoder, { a: dh, b: params, bOffset: lora.aOffset, c: dx, M: rows, N: inF, K: r, beta: 1, label: `${label}.lora_dx` });
}
