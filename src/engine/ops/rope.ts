import type { Gpu } from '../../gpu/gpu';
import { workgroupsFor } from './dispatch';
import source from '../../../kernels/rope.wgsl?raw';

export interface RopeArgs {
  /** [rows, heads * headDim] f32, rotated in place (the activations forward, their gradient backward). */
  x: GPUBuffer;
  /** f32 [headDim / 2], from ropeInverseFrequencies. */
  invFreq: GPUBuffer;
  rows: number;
  /** Row n is position n % seqLen. */
  seqLen: number;
  heads: number;
  headDim: number;
  label?: string;
}

const WORKGROUP = 256;

/** Rotates every head of every row by position * invFreq (HF rotate-half pairing: d with d + headDim/2). */
export function ropeForward(gpu: Gpu, encoder: GPUCommandEncoder, args: RopeArgs): void {
  rope(gpu, encoder, args, 'forward');
}

/** The transpose of ropeForward (rotation by -angle), applied in place to the gradient. */
export function ropeBackward(gpu: Gpu, encoder: GPUCommandEncoder, args: RopeArgs): void {
  rope(gpu, encoder, args, 'backward');
}

/** ropeForward with row n at position positions[n] (u32 [rows]): the new token of each sequence in generation. */
export function ropeForwardAt(gpu: Gpu, encoder: GPUCommandEncoder, args: Omit<RopeArgs, 'seqLen'> & { positions: GPUBuffer }): void {
  const { rows, heads, headDim } = args;
  if (headDim % 2 !== 0) throw new Error(`RoPE head dimension must be even, got ${headDim}`);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'forward_at'),
    buffers: [args.x, args.invFreq, args.positions],
    params: new Uint32Array([rows, 1, heads, headDim]),
    workgroups: workgroupsFor(gpu, rows * (headDim / 2), WORKGROUP),
    label: args.label ?? 'rope.forward_at',
  });
}

function rope(gpu: Gpu, encoder: GPUCommandEncoder, args: RopeArgs, entryPoint: 'forward' | 'backward'): void {
  const { rows, seqLen, heads, headDim } = args;
  if (headDim % 2 !== 0) throw new Error(`RoPE head dimension must be even, got ${headDim}`);
  if (seqLen <= 0) throw new Error(`RoPE sequence length must be positive, got ${seqLen}`);
  const threads = rows * (headDim / 2);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, entryPoint),
    buffers: [args.x, args.invFreq],
    params: new Uint32Array([rows, seqLen, heads, headDim]),
    workgroups: workgroupsFor(gpu, threads, WORKGROUP),
    label: args.label ?? `rope.${entryPoint}`,
  });
}
