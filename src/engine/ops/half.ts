// Half-size storage of f32 activations: f16 pairs packed in u32 words (kernels/half.wgsl).
import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/half.wgsl?raw';
import { workgroupsFor } from './dispatch';

const WORKGROUP_SIZE = 256;

/** Bytes of `count` values stored as packed f16 pairs (whole u32 words). */
export function packedF16Bytes(count: number): number {
  return Math.ceil(count / 2) * 4;
}

interface HalfArgs {
  /** f32 [count] */
  x: GPUBuffer;
  /** u32 [ceil(count / 2)]: f16 pairs */
  packed: GPUBuffer;
  count: number;
  label?: string;
}

function run(gpu: Gpu, encoder: GPUCommandEncoder, entry: 'pack' | 'unpack', args: HalfArgs): void {
  if (args.x.size < args.count * 4) throw new Error(`${args.label ?? entry}: the f32 buffer holds ${args.x.size} bytes, ${args.count} values need ${args.count * 4}`);
  if (args.packed.size < packedF16Bytes(args.count)) {
    throw new Error(`${args.label ?? entry}: the packed buffer holds ${args.packed.size} bytes, ${args.count} f16 values need ${packedF16Bytes(args.count)}`);
  }
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, entry),
    buffers: [args.x, args.packed],
    params: new Uint32Array([args.count]),
    workgroups: workgroupsFor(gpu, Math.ceil(args.count / 2), WORKGROUP_SIZE),
    label: args.label ?? entry,
  });
}

/** packed = x in f16 (clamped to +-65504), and x rounded to those same f16 values in place. */
export function packF16(gpu: Gpu, encoder: GPUCommandEncoder, args: HalfArgs): void {
  run(gpu, encoder, 'pack', args);
}

/** x = the f32 values of packed. */
export function unpackF16(gpu: Gpu, encoder: GPUCommandEncoder, args: HalfArgs): void {
  run(gpu, encoder, 'unpack', args);
}
