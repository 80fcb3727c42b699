import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../util/random';
import { GGML_TYPES, blockSize, dequantize, quantize } from '../../engine/ggml';
import { type GgufRangeSource, blobRangeSource, parseGgufHeader, readGguf, readGgufTensor } from './reader';
import { type GgufTensorInput, ggufValue, writeGguf } from './writer';

function randomValues(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (next() - 0.5) * 2);
}

function tensorsOfEveryType(): GgufTensorInput[] {
  return GGML_TYPES.map((type, i) => {
    const ne0 = blockSize(type) === 1 ? 7 : blockSize(type);
    return { name: `blk.${i}.${type}`, type, shape: [ne0, 2], data: quantize(type, randomValues(ne0 * 2, i)) };
  });
}

const METADATA = {
  'general.architecture': 'llama',
  'llama.block_count': ggufValue.u32(2),
  'llama.rope.freq_base': ggufValue.f32(500000),
  'test.u64': ggufValue.u64(7),
  'tokenizer.ggml.tokens': ggufValue.array('string', ['a', 'b']),
  'tokenizer.ggml.scores': ggufValue.array('float32', [0.5, -1]),
  'test.flag': true,
};

/** The byte offset of the ggml type field of the named tensor's info. */
function typeFieldOffset(bytes: Uint8Array, name: string, dims: number): number {
  const needle = new TextEncoder().encode(name);
  for (let i = 0; i < bytes.length - needle.length; i++) {
    if (needle.every((b, j) => bytes[i + j] === b)) return i + needle.length + 4 + 8 * dims;
  }
  throw new Error(`${name} not found`);
}

describe('parseGgufHeader', () => {
  for (const version of [2, 3] as const) {
    it(`v${version}: reads metadata and tensor infos with absolute offsets`, async () => {
      const tensors = tensorsOfEveryType();
      const bytes = writeGguf({ version, metadata: METADATA, tensors });
      const header = await parseGgufHeader(bytes);
      expect(header.version).toBe(version);
      expect(header.fileSize).toBe(bytes.length);
      expect(header.alignment).toBe(32);
      expect(header.metadata).toEqual({
        'general.architecture': 'llama',
        'llama.block_count': 2,
        'llama.rope.freq_base': 500000,
        'test.u64': 7n,
        'tokenizer.ggml.tokens': ['a', 'b'],
        'tokenizer.ggml.scores': [0.5, -1],
        'test.flag': true,
      });
      expect(header.tensorInfos.map(({ name, type, shape }) => ({ name, type, shape }))).toEqual(
        tensors.map(({ name, type, shape }) => ({ name, type, shape })),
      );
      header.tensorInfos.forEach((info, i) => {
        expect(info.offset % 32).toBe(0);
        expect(info.offset).toBeGreaterThanOrEqual(header.dataOffset);
        expect(info.byteLength).toBe(tensors[i].data.length);
        expect(bytes.subarray(info.offset, info.offset + info.byteLength)).toEqual(tensors[i].data);
      });
    });
  }

  it('reads the header of a large file through a range source without reading the tensor data', async () => {
    const big = new Uint8Array(4 * 1024 * 1024 * 3); // 12 MB of F32
    const bytes = writeGguf({
      metadata: METADATA,
      tensors: [{ name: 'token_embd.weight', type: 'F32', shape: [1024, 3072], data: big }],
    });
    let bytesRead = 0;
    const source: GgufRangeSource = {
      size: bytes.length,
      read: async (begin, end) => {
        bytesRead += end - begin;
        return bytes.slice(begin, end);
      },
    };
    const header = await parseGgufHeader(source);
    expect(header.tensorInfos[0]).toMatchObject({ name: 'token_embd.weight', byteLength: big.length });
    expect(header.tensorInfos[0].offset + big.length).toBe(bytes.length);
    expect(bytesRead).toBeLessThan(2.5 * 1024 * 1024);
  });

  it('reads from a Blob, header and tensors', async () => {
    const tensors = tensorsOfEveryType();
    const bytes = writeGguf({ metadata: METADATA, tensors });
    const source = blobRangeSource(new Blob([bytes.slice().buffer]));
    const header = await parseGgufHeader(source);
    expect(header.tensorInfos.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    for (const [i, info] of header.tensorInfos.entries()) {
      const t = tensors[i];
      expect(await readGgufTensor(source, info)).toEqual(dequantize(t.type, t.data, t.shape[0] * t.shape[1]));
    }
  });

  it('says what is wrong with a file it cannot read', async () => {
    const tensors = [{ name: 'blk.0.attn_q.weight', type: 'F32' as const, shape: [256, 2], data: new Uint8Array(2048) }];
    const good = writeGguf({ metadata: METADATA, tensors });

    await expect(parseGgufHeader(new TextEncoder().encode('{"not": "gguf"}'))).rejects.toThrow(/not a GGUF file/);
    await expect(parseGgufHeader(good.subarray(0, 5))).rejects.toThrow(/not a GGUF file/);

    for (const version of [1, 4]) {
      const other = good.slice();
      other[4] = version;
      await expect(parseGgufHeader(other)).rejects.toThrow(new RegExp(`GGUF version ${version} is not supported \\(supported: 2, 3\\)`));
    }
    const bigEndian = good.slice();
    bigEndian.set([0, 0, 0, 3], 4);
    await expect(parseGgufHeader(bigEndian)).rejects.toThrow(/big-endian/);

    await expect(parseGgufHeader(good.subarray(0, good.length - 100))).rejects.toThrow(
      /truncated file: tensor blk\.0\.attn_q\.weight ends at byte \d+, but the file has \d+ bytes/,
    );
    await expect(parseGgufHeader(good.subarray(0, 60))).rejects.toThrow('truncated file: its 60 bytes end inside the header');

    const iq2 = good.slice();
    new DataView(iq2.buffer).setUint32(typeFieldOffset(iq2, 'blk.0.attn_q.weight', 2), 16, true);
    await expect(parseGgufHeader(iq2)).rejects.toThrow(
      'tensor blk.0.attn_q.weight is IQ2_XXS, which is not supported; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K',
    );
  });
});

describe('readGguf', () => {
  it('serves each tensor as bytes and dequantized to float32', async () => {
    const tensors = tensorsOfEveryType();
    const file = await readGguf(writeGguf({ metadata: METADATA, tensors }));
    for (const t of tensors) {
      expect(file.has(t.name)).toBe(true);
      expect(file.tensorBytes(t.name)).toEqual(t.data);
      const elements = t.shape[0] * t.shape[1];
      expect(file.tensor(t.name)).toEqual(dequantize(t.type, t.data, elements));
    }
    expect(() => file.info('nope')).toThrow(/no tensor named "nope"/);
  });
});
