import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/rmsnorm.wgsl?raw';
import { splitWorkgroups } from './dispatch';
import { withReductions, type ReduceOptions } from './reduce';

// Weight-gradient pass 1 sums chunks of rows into [chunks, dim] partials; pass 2 sums those in order.
const WEIGHT_GRAD_COLS = 64;
const MIN_CHUNK_ROWS = 64;
const MAX_CHUNKS = 64;

function params(rows: number, dim: number, eps: number, accumulate: boolean, chunkRows = 0, chunks = 0): ArrayBuffer {
  const buffer = new ArrayBuffer(24);
  const u = new Uint32Array(buffer);
  u.set([rows, dim, 0, accumulate ? 1 : 0, chunkRows, chunks]);
  new Float32Array(buffer)[2] = eps;
  return buffer;
}

/**
 * y = x * rstd * weight, row by row. x, y: f32 [rows, dim]; weight: f32 [dim];
 * rstd: f32 [rows], written as 1 / sqrt(mean(x^2) + eps) for the backward pass.
 */
export function rmsnormForward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: {
    x: GPUBuffer;
    weight: GPUBuffer;
    y: GPUBuffer;
    rstd: GPUBuffer;
    rows: number;
    dim: number;
    eps: number;
    label?: string;
  } & ReduceOptions,
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source, args), 'forward'),
    buffers: [args.x, args.weight, args.y, args.rstd],
    params: params(args.rows, args.dim, args.eps, false),
    workgroups: splitWorkgroups(gpu, args.rows),
    label: args.label ?? 'rmsnormForward',
  });
}

/**
 * dx = d(sum dy * y)/dx for the forward above, using its rstd. dy, x, dx: f32 [rows, dim].
 * accumulate: dx += the gradient instead of dx = it.
 */
export function rmsnormBackward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: {
    dy: GPUBuffer;
    x: GPUBuffer;
    weight: GPUBuffer;
    rstd: GPUBuffer;
    dx: GPUBuffer;
    rows: number;
    dim: number;
    accumulate?: boolean;
    label?: string;
  } & ReduceOptions,
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source, args), 'backward'),
    buffers: [args.dy, args.x, args.weight, args.rstd, args.dx],
    params: params(args.rows, args.dim, 0, args.accumulate ?? false),
    workgroups: splitWorkgroups(gpu, args.rows),
    label: args.label ?? 'rmsnormBackward',
  });
}

// One partials buffer per device, shared by all calls: kernels in a command encoder run in order, so reuse is
// safe. It grows when a larger dim comes; the old one is left to the garbage collector rather than destroyed,
// since commands already recorded but not yet submitted may still use it.
const partialsByGpu = new WeakMap<Gpu, GPUBuffer>();

function partialsBuffer(gpu: Gpu, floats: number): GPUBuffer {
  const existing = partialsByGpu.get(gpu);
  if (existing && existing.size >= floats * 4) return existing;
  const buffer = gpu.buffer('rmsnorm.dweight.partials', Math.max(floats, MAX_CHUNKS * 4096) * 4);
  partialsByGpu.set(gpu, buffer);
  return buffer;
}

/**
 * dweight[d] (+)= sum_n dy[n,d] * x[n,d] * rstd[n]. dy, x: f32 [rows, dim]; rstd: f32 [rows]; dweight: f32 [dim].
 * Deterministic (fixed summation order, no atomics); uses a small scratch buffer held per device.
 */
export function rmsnormWeightGrad(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: {
    dy: GPUBuffer;
    x: GPUBuffer;
    rstd: GPUBuffer;
    dweight: GPUBuffer;
    rows: number;
    dim: number;
    accumulate?: boolean;
    label?: string;
  },
): void {
  const { rows, dim } = args;
  const label = args.label ?? 'rmsnormWeightGrad';
  let chunks = Math.min(MAX_CHUNKS, Math.ceil(rows / MIN_CHUNK_ROWS));
  const chunkRows = chunks === 0 ? 0 : Math.ceil(rows / chunks);
  if (chunks > 0) chunks = Math.ceil(rows / chunkRows);
  const partials = partialsBuffer(gpu, MAX_CHUNKS * dim);
  const p = params(rows, dim, 0, args.accumulate ?? false, chunkRows, chunks);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source), 'weight_grad_partial'),
    buffers: [args.dy, args.x, args.rstd, partials],
    params: p,
    workgroups: [Math.ceil(dim / WEIGHT_GRAD_COLS), chunks],
    label: `${label}.partial`,
  });
  gpu.run(encoder, {
    pipeline: gpu.pipeline(withReductions(gpu, source), 'weight_grad_reduce'),
    buffers: [partials, args.dweight],
    params: p,
    workgroups: [Math.ceil(dim / 256)],
    label: `${label}.reduce`,
  });
}
