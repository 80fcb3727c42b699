// TensorUploader against a fake queue that enforces writeBuffer's rules (4-byte aligned offset and size,
// within the buffer). The same code runs on real WebGPU in to-gpu.gpu.test.ts.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../util/random';
import { FIXTURE_TENSORS, fixtureSafetensors } from './files.testing';
import { SafetensorsToGpu, type TensorPlacement, TensorUploader } from './to-gpu';

interface FakeBuffer {
  label: string;
  size: number;
  data: Uint8Array;
  destroyed: boolean;
}

function fakeGpu() {
  const buffers: FakeBuffer[] = [];
  let writes = 0;
  let flushes = 0;
  const gpu = {
    buffers,
    get writes() {
      return writes;
    },
    get flushes() {
      return flushes;
    },
    device: {
      queue: {
        writeBuffer: ((target, offset, data, dataOffset = 0, size) => {
          const buffer = target as unknown as FakeBuffer;
          if (buffer.destroyed) throw new Error('write to a destroyed buffer');
          const view = data as Uint8Array;
          const bytes = size ?? view.length - dataOffset;
          if (offset % 4 !== 0 || bytes % 4 !== 0) throw new Error(`unaligned write: offset ${offset}, size ${bytes}`);
          if (offset + bytes > buffer.size) throw new Error(`write past the end: ${offset}+${bytes} > ${buffer.size}`);
          buffer.data.set(view.subarray(dataOffset, dataOffset + bytes), offset);
          writes += 1;
        }) as GPUQueue['writeBuffer'],
        onSubmittedWorkDone: async (): Promise<undefined> => {
          flushes += 1;
          return undefined;
        },
      },
    },
    buffer(label: string, size: number): GPUBuffer {
      const rounded = Math.max(4, Math.ceil(size / 4) * 4);
      const buffer: FakeBuffer = { label, size: rounded, data: new Uint8Array(rounded), destroyed: false };
      buffers.push(buffer);
      return buffer as unknown as GPUBuffer;
    },
    destroy(...list: GPUBuffer[]) {
      for (const b of list) (b as unknown as FakeBuffer).destroyed = true;
    },
  };
  return gpu;
}

const asFake = (b: GPUBuffer) => b as unknown as FakeBuffer;

/** Splits `file` into chunks of random sizes (1 byte to maxChunk). */
function* randomChunks(file: Uint8Array, seed: number, maxChunk: number): Generator<[Uint8Array, number]> {
  const next = mulberry32(seed);
  let offset = 0;
  while (offset < file.length) {
    const size = 1 + Math.floor(next() * maxChunk);
    yield [file.subarray(offset, offset + size), offset];
    offset += size;
  }
}

describe('TensorUploader', () => {
  const file = new Uint8Array(2000).map((_, i) => (i * 7 + 3) & 255);

  function plan(gpu: ReturnType<typeof fakeGpu>): TensorPlacement[] {
    const shared = gpu.buffer('shared', 800);
    return [
      { name: 'odd', begin: 13, end: 13 + 301, buffer: gpu.buffer('odd', 301), bufferOffset: 0 },
      { name: 'in-shared-1', begin: 500, end: 500 + 5, buffer: shared, bufferOffset: 4 },
      { name: 'empty', begin: 505, end: 505, buffer: shared, bufferOffset: 12 },
      { name: 'in-shared-2', begin: 505, end: 505 + 777, buffer: shared, bufferOffset: 12 },
      { name: 'last', begin: 1997, end: 2000, buffer: gpu.buffer('last', 3), bufferOffset: 0 },
    ];
  }

  it('writes every tensor to its place with aligned writes, whatever the chunk sizes', async () => {
    for (const [seed, maxChunk] of [[1, 1], [2, 3], [3, 7], [4, 64], [5, 3000]]) {
      const gpu = fakeGpu();
      const placements = plan(gpu);
      const uploader = new TensorUploader(gpu, placements, { flushEveryBytes: 256 });
      for (const [chunk, offset] of randomChunks(file, seed, maxChunk)) await uploader.push(chunk, offset);
      await uploader.finish();
      expect(uploader.done).toBe(true);
      expect(uploader.bytesUploaded).toBe(301 + 5 + 777 + 3);
      for (const t of placements) {
        const got = asFake(t.buffer).data.subarray(t.bufferOffset, t.bufferOffset + (t.end - t.begin));
        expect(Array.from(got), `${t.name}, chunks up to ${maxChunk}`).toEqual(Array.from(file.subarray(t.begin, t.end)));
      }
      // Nothing outside the tensors was written, padding included.
      const shared = asFake(placements[1].buffer).data;
      expect(Array.from(shared.subarray(0, 4))).toEqual([0, 0, 0, 0]);
      expect(Array.from(shared.subarray(9, 12))).toEqual([0, 0, 0]);
      expect(gpu.flushes).toBeGreaterThan(1);
    }
  });

  it('accepts chunks that skip bytes no tensor needs, and refuses ones that skip tensor bytes', async () => {
    const gpu = fakeGpu();
    const uploader = new TensorUploader(gpu, plan(gpu));
    await uploader.push(file.subarray(13, 13 + 301), 13);
    await uploader.push(file.subarray(500, 1282), 500);
    await uploader.push(file.subarray(1990), 1990);
    await uploader.finish();

    const gapped = new TensorUploader(gpu, plan(gpu));
    await gapped.push(file.subarray(0, 100), 0);
    await expect(gapped.push(file.subarray(200, 300), 200)).rejects.toThrow('bytes 100..200 of tensor "odd" never arrived');
    await expect(gapped.push(file.subarray(0, 10), 0)).rejects.toThrow(/must arrive in order/);
  });

  it('says which tensor is incomplete when the file ends early', async () => {
    const gpu = fakeGpu();
    const uploader = new TensorUploader(gpu, plan(gpu));
    await uploader.push(file.subarray(0, 600), 0);
    await expect(uploader.finish()).rejects.toThrow('tensor "in-shared-2" got 95 of 777 bytes');
  });

  it('abort() destroys every buffer of the plan', async () => {
    const gpu = fakeGpu();
    const uploader = new TensorUploader(gpu, plan(gpu));
    await uploader.push(file.subarray(0, 700), 0);
    uploader.abort();
    expect(gpu.buffers.every((b) => b.destroyed)).toBe(true);
    await expect(uploader.push(file.subarray(700, 800), 700)).rejects.toThrow(/after abort/);
  });

  it('refuses plans that cannot be written', () => {
    const gpu = fakeGpu();
    const buffer = gpu.buffer('b', 16);
    expect(() => new TensorUploader(gpu, [{ name: 'x', begin: 0, end: 8, buffer, bufferOffset: 2 }])).toThrow(/not a multiple of 4/);
    expect(() => new TensorUploader(gpu, [{ name: 'x', begin: 0, end: 17, buffer, bufferOffset: 0 }])).toThrow(/does not fit/);
    expect(
      () =>
        new TensorUploader(gpu, [
          { name: 'x', begin: 0, end: 5, buffer, bufferOffset: 0 },
          { name: 'y', begin: 5, end: 9, buffer, bufferOffset: 4 },
        ]),
    ).toThrow(/overlap in their buffer/);
    expect(
      () =>
        new TensorUploader(gpu, [
          { name: 'x', begin: 0, end: 5, buffer, bufferOffset: 0 },
          { name: 'y', begin: 4, end: 8, buffer, bufferOffset: 8 },
        ]),
    ).toThrow(/overlap in the file/);
  });
});

describe('SafetensorsToGpu', () => {
  const file = fixtureSafetensors();

  it('parses the header from the stream and uploads every tensor into its own buffer', async () => {
    for (const [seed, maxChunk] of [[1, 5], [2, 900], [3, 70_000], [4, file.length]]) {
      const gpu = fakeGpu();
      const loader = new SafetensorsToGpu(gpu, file.length);
      for (const [chunk, offset] of randomChunks(file, seed, maxChunk)) await loader.push(chunk, offset);
      const { header, buffers } = await loader.finish();
      expect([...buffers.keys()].sort()).toEqual(FIXTURE_TENSORS.map((t) => t.name));
      for (const [name, info] of header.tensors) {
        const got = asFake(buffers.get(name) as GPUBuffer).data.subarray(0, info.end - info.begin);
        const want = file.subarray(header.dataOffset + info.begin, header.dataOffset + info.end);
        expect(Buffer.from(got).equals(want), `${name}, chunks up to ${maxChunk}`).toBe(true);
      }
    }
  });

  it('loads only the tensors asked for, and abort() frees what was allocated', async () => {
    const gpu = fakeGpu();
    const loader = new SafetensorsToGpu(gpu, file.length, { include: (info) => info.name.startsWith('d') });
    await loader.push(file.subarray(0, 5000), 0);
    expect(gpu.buffers.map((b) => b.label)).toEqual(['d.big']);
    loader.abort();
    expect(gpu.buffers.every((b) => b.destroyed)).toBe(true);
  });

  it('fails clearly on a file that is not safetensors or ends in its header', async () => {
    const gpu = fakeGpu();
    await expect(new SafetensorsToGpu(gpu, 100).push(new Uint8Array(100).fill(0xff), 0)).rejects.toThrow(/not a safetensors file/);
    const truncated = new SafetensorsToGpu(gpu, file.length);
    await truncated.push(file.subarray(0, 20), 0);
    await expect(truncated.finish()).rejects.toThrow(/ended inside its header/);
  });
});
