import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/swiglu.wgsl?raw';
import { workgroupsFor } from './dispatch';

const WORKGROUP_SIZE = 256;

function params(count: number): Uint32Array {
  return new Uint32Array([count]);
}

/** out[i] = silu(gate[i]) * up[i] for i < count; silu(g) = g / (1 + exp(-g)). All f32, same layout. */
export function swigluForward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: { gate: GPUBuffer; up: GPUBuffer; out: GPUBuffer; count: number; label?: string },
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'forward'),
    buffers: [args.gate, args.up, args.out],
    params: params(args.count),
    workgroups: workgroupsFor(gpu, args.count, WORKGROUP_SIZE),
    label: args.label ?? 'swigluForward',
  });
}

/**
 * In place: gate becomes dGate = dOut * up * silu'(gate) and up becomes dUp = dOut * silu(gate). The backward
 * reads gate and up here for the last time, so their buffers take the gradients and the MLP needs no others.
 */
export function swigluBackward(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: {
    dOut: GPUBuffer;
    /** In: gate; out: dGate. */
    gate: GPUBuffer;
    /** In: up; out: dUp. */
    up: GPUBuffer;
    count: number;
    label?: string;
  },
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'backward'),
    buffers: [args.dOut, args.gate, args.up],
    params: params(args.count),
    workgroups: workgroupsFor(gpu, args.count, WORKGROUP_SIZE),
    label: args.label ?? 'swigluBackward',
  });
}
