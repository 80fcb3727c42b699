// TensorUploader and SafetensorsToGpu on real WebGPU: tensors of odd sizes at unaligned file offsets,
// fed in chunks of awkward sizes, read back from the GPU byte for byte.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { mulberry32 } from '../../util/random';
import { type GgmlType, quantize } from '../../engine/ggml';
import { randomArray } from '../../util/random';
import { writeSafetensors } from '../safetensors';
import { FIXTURE_TENSORS, fixtureSafetensors } from './files.testing';
import { NonFiniteWeightError, SafetensorsToGpu, type TensorPlacement, TensorUploader } from './to-gpu';

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

describe('the finite check of an upload', () => {
  /** A file of GGML tensors back to back at unaligned offsets, and its plan (one buffer per tensor). */
  function ggmlFile(gpu: Awaited<ReturnType<typeof testGpu>>, tensors: { name: string; type: GgmlType; values: Float32Array }[]) {
    const encoded = tensors.map((t) => quantize(t.type, t.values));
    const file = new Uint8Array(encoded.reduce((n, e) => n + e.length + 3, 1));
    const plan: TensorPlacement[] = [];
    let at = 1;
    encoded.forEach((bytes, i) => {
      file.set(bytes, at);
      plan.push({ name: tensors[i].name, type: tensors[i].type, begin: at, end: at + bytes.length, buffer: gpu.buffer(tensors[i].name, bytes.length), bufferOffset: 0 });
      at += bytes.length + 3;
    });
    return { file, plan };
  }

  async function upload(gpu: Awaited<ReturnType<typeof testGpu>>, tensors: { name: string; type: GgmlType; values: Float32Array }[]): Promise<unknown> {
    const { file, plan } = ggmlFile(gpu, tensors);
    const uploader = new TensorUploader(gpu, plan, { checkFinite: gpu });
    try {
      for (const [chunk, offset] of randomChunks(file, 3, 5000)) await uploader.push(chunk, offset);
      await uploader.finish();
      return null;
    } catch (error) {
      return error;
    } finally {
      gpu.destroy(...plan.map((p) => p.buffer));
    }
  }

  it('names the first tensor (in file order) with a NaN or infinity, and the value or block', async () => {
    const gpu = await testGpu();
    const values = (n: number, seed: number, bad?: [number, number]) => {
      const v = randomArray(n, seed, 0.5);
      if (bad) v[bad[0]] = bad[1];
      return v;
    };
    const before = gpu.allocatedBytes;
    const clean = [
      { name: 'a.f32', type: 'F32' as const, values: values(1001, 1) },
      { name: 'b.f16', type: 'F16' as const, values: values(777, 2) },
      { name: 'c.q4k', type: 'Q4_K' as const, values: values(256 * 3, 3) },
      { name: 'd.bf16', type: 'BF16' as const, values: values(515, 4) },
    ];
    expect(await upload(gpu, clean)).toBeNull();
    // f16 overflows to infinity past 65504; a NaN in a block makes its scale NaN.
    const twoBad = [clean[0], { ...clean[1], values: values(777, 2, [301, 1e6]) }, { ...clean[2], values: values(256 * 3, 3, [600, Number.NaN]) }, clean[3]];
    const error = await upload(gpu, twoBad);
    expect(error).toBeInstanceOf(NonFiniteWeightError);
    expect((error as Error).message).toBe(
      'tensor "b.f16" (F16) is not finite: its value 301 is NaN or infinite. The file is damaged, or was written from a model that diverged.',
    );
    const blockBad = await upload(gpu, [clean[0], clean[1], twoBad[2], clean[3]]);
    expect((blockBad as Error).message).toMatch(/^tensor "c\.q4k" \(Q4_K\) is not finite: its block 2 \(values 512\.\.767\) has a NaN or infinite f16 scale\./);
    const lastBad = await upload(gpu, [clean[0], clean[1], clean[2], { ...clean[3], values: values(515, 4, [514, -Infinity]) }]);
    expect((lastBad as Error).message).toMatch(/^tensor "d\.bf16" \(BF16\) is not finite: its value 514 is NaN/);
    expect(gpu.allocatedBytes).toBe(before); // the check's buffer is freed, whether it passes or throws
  });

  it('costs little beside the upload itself (printed), passes real float weights, and finds a NaN in the last of 2048 workgroups', async () => {
    const gpu = await testGpu();
    const mib = 32;
    const big = randomArray(mib * 128 * 1024, 5, 0.02);
    const fileOf = (data: Float32Array) => writeSafetensors({
      'w.a': { shape: [mib * 128, 1024], data },
      'w.b': { shape: [3, 5], data: randomArray(15, 6, 0.02) },
    });
    const file = fileOf(big);
    const time = async (checkFinite: boolean) => {
      const loader = new SafetensorsToGpu(gpu, file.length, checkFinite ? { checkFinite: gpu } : {});
      const t0 = performance.now();
      for (let at = 0; at < file.length; at += 4 << 20) await loader.push(file.subarray(at, at + (4 << 20)), at);
      const { buffers } = await loader.finish();
      const ms = performance.now() - t0;
      gpu.destroy(...buffers.values());
      return ms;
    };
    await time(true); // compiles the pipeline
    const plain = Math.min(await time(false), await time(false));
    const checked = Math.min(await time(true), await time(true));
    console.log(`finite check: ${mib} MiB of F32 uploaded in ${plain.toFixed(0)} ms, ${checked.toFixed(0)} ms with the check (+${(((checked - plain) / plain) * 100).toFixed(0)}%)`);

    // 8M values at 4096 per workgroup: the bad one is in the last workgroup, 4097 values before the end.
    const poisoned = big.slice();
    const bad = poisoned.length - 4097;
    poisoned[bad] = Number.NaN;
    const bytes = fileOf(poisoned);
    const loader = new SafetensorsToGpu(gpu, bytes.length, { checkFinite: gpu });
    const error = await (async () => {
      for (let at = 0; at < bytes.length; at += 4 << 20) await loader.push(bytes.subarray(at, at + (4 << 20)), at);
      await loader.finish();
    })().then(() => null, (e: unknown) => e);
    expect((error as Error | null)?.message).toMatch(new RegExp(`^tensor "w\\.a" \\(F32\\) is not finite: its value ${bad} is NaN`));
  });
});
