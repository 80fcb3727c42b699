// TensorUploader and SafetensorsToGpu on real WebGPU: tensors of odd sizes at unaligned file offsets,
// fed in chunks of awkward sizes, read back from the GPU byte for byte.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { mulberry32 } from '../../util/random';
import { FIXTURE_TENSORS, fixtureSafetensors } from './files.testing';
import { SafetensorsToGpu, TensorUploader } from './to-gpu';

function* randomChunks(file: Uint8Array, seed: number, maxChunk: number): Generator<[Uint8Array, number]> {
  const next = mulberry32(seed);
  let offset = 0;
  while (offset < file.length) {
    const size = 1 + Math.floor(next() * maxChunk);
    yield [file.subarray(offset, offset + size), offset];
    offset += size;
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('TensorUploader on the GPU', () => {
  it('writes tensors at unaligned file offsets into one shared buffer', async () => {
    const gpu = await testGpu();
    const file = new Uint8Array(3000).map((_, i) => (i * 13 + 5) & 255);
    const shared = gpu.buffer('shared', 1200);
    const plan = [
      { name: 'a', begin: 3, end: 3 + 513, buffer: shared, bufferOffset: 0 },
      { name: 'b', begin: 1001, end: 1001 + 7, buffer: shared, bufferOffset: 516 },
      { name: 'c', begin: 2000, end: 2000 + 601, buffer: shared, bufferOffset: 524 },
    ];
    const uploader = new TensorUploader(gpu, plan, { flushEveryBytes: 512 });
    for (const [chunk, offset] of randomChunks(file, 1, 97)) await uploader.push(chunk, offset);
    await uploader.finish();
    const back = new Uint8Array(await gpu.read(shared));
    for (const t of plan) {
      const got = back.subarray(t.bufferOffset, t.bufferOffset + t.end - t.begin);
      expect(equalBytes(got, file.subarray(t.begin, t.end)), t.name).toBe(true);
    }
    expect(Array.from(back.subarray(516 + 7, 524))).toEqual([0]); // b's padding
    gpu.destroy(shared);
  });

  it('streams a safetensors file into one buffer per tensor, and abort() frees them', async () => {
    const gpu = await testGpu();
    const file = fixtureSafetensors();
    const before = gpu.allocatedBytes;
    const loader = new SafetensorsToGpu(gpu, file.length);
    for (const [chunk, offset] of randomChunks(file, 2, 20_000)) await loader.push(chunk, offset);
    const { header, buffers } = await loader.finish();
    expect([...buffers.keys()].sort()).toEqual(FIXTURE_TENSORS.map((t) => t.name));
    for (const [name, info] of header.tensors) {
      const bytes = info.end - info.begin;
      const got = new Uint8Array(await gpu.read(buffers.get(name) as GPUBuffer, Math.max(4, Math.ceil(bytes / 4) * 4))).subarray(0, bytes);
      const want = file.subarray(header.dataOffset + info.begin, header.dataOffset + info.end);
      expect(equalBytes(got, want), name).toBe(true);
    }
    expect(gpu.allocatedBytes).toBeGreaterThan(before);
    loader.abort();
    expect(gpu.allocatedBytes).toBe(before);
  });
});
