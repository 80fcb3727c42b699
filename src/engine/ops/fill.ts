import type { Gpu } from '../../gpu/gpu';
import source from '../../../kernels/fill.wgsl?raw';

/** buffer[0..count) = offset + scale * U[-1, 1), reproducible for a seed. */
export function fillUniform(gpu: Gpu, encoder: GPUCommandEncoder, args: { buffer: GPUBuffer; count: number; seed: number; scale: number; offset?: number }): void {
  const rowWidth = 256 * 4096;
  const params = new ArrayBuffer(24);
  new Uint32Array(params).set([args.count, args.seed >>> 0, rowWidth, 0]);
  new Float32Array(params).set([args.scale, args.offset ?? 0], 4);
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source),
    buffers: [args.buffer],
    params,
    workgroups: [Math.min(4096, Math.ceil(args.count / 256)), Math.ceil(args.count / rowWidth)],
    label: 'fill_uniform',
  });
}
