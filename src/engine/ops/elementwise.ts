import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/elementwise.wgsl?raw';
import { workgroupsFor } from './dispatch';

const WORKGROUP_SIZE = 256;

function params(count: number, scale: number): ArrayBuffer {
  const buffer = new ArrayBuffer(8);
  new Uint32Array(buffer)[0] = count;
  new Float32Array(buffer)[1] = scale;
  return buffer;
}

/** target[i] += scale * source[i] for i < count (f32; target and source must be different buffers). */
export function addInPlace(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: { target: GPUBuffer; source: GPUBuffer; count: number; scale?: number; label?: string },
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'add_in_place'),
    buffers: [args.target, args.source],
    params: params(args.count, args.scale ?? 1),
    workgroups: workgroupsFor(gpu, args.count, WORKGROUP_SIZE),
    label: args.label ?? 'addInPlace',
  });
}

/** target[i] *= scale for i < count. */
export function scaleInPlace(
  gpu: Gpu,
  encoder: GPUCommandEncoder,
  args: { target: GPUBuffer; count: number; scale: number; label?: string },
): void {
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, 'scale_in_place'),
    buffers: [args.target],
    params: params(args.count, args.scale),
    workgroups: workgroupsFor(gpu, args.count, WORKGROUP_SIZE),
    label: args.label ?? 'scaleInPlace',
  });
}
