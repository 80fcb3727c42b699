import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGUFValueType, gguf } from '@huggingface/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../util/random';
import { GGML_TYPES, GGML_TYPE_ID, type GgmlType, blockSize, quantize } from '../../engine/ggml';
import { type GgufTensorInput, type GgufValue, ggufLayout, ggufValue, writeGguf, writeGgufStreamed } from './writer';

// Reads back through @huggingface/gguf's own local-file path, independent of our reader.
const dir = mkdtempSync(join(tmpdir(), 'gguf-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
async function parseWithLibrary(bytes: Uint8Array) {
  const path = join(dir, `f${fileCount++}.gguf`);
  writeFileSync(path, bytes);
  return gguf(path, { allowLocalFile: true, typedMetadata: true });
}

function randomValues(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (next() - 0.5) * 2);
}

/** One tensor of every type: 2-D with rows of two blocks, 3 rows (odd sizes exercise the padding). */
function tensorsOfEveryType(): GgufTensorInput[] {
  return GGML_TYPES.map((type, i) => {
    const ne0 = blockSize(type) === 1 ? 5 : 2 * blockSize(type);
    const shape = [ne0, 3];
    return { name: `t.${i}.${type.toLowerCase()}`, type, shape, data: quantize(type, randomValues(ne0 * 3, 100 + i)) };
  });
}

const METADATA: Record<string, GgufValue> = {
  'general.architecture': 'llama',
  'general.name': 'tést ✓ model', // UTF-8
  'test.u8': ggufValue.u8(250),
  'test.i8': ggufValue.i8(-100),
  'test.u16': ggufValue.u16(65000),
  'test.i16': ggufValue.i16(-32000),
  'test.u32': ggufValue.u32(4000000000),
  'test.i32': ggufValue.i32(-2000000000),
  'test.f32': ggufValue.f32(1e-5),
  'test.f32_integral': ggufValue.f32(10000),
  'test.bool_true': true,
  'test.bool_false': false,
  'test.u64': ggufValue.u64(2n ** 63n + 5n),
  'test.i64': ggufValue.i64(-(2n ** 40n)),
  'test.f64': ggufValue.f64(Math.PI),
  'test.empty_string': '',
  'test.strings': ggufValue.array('string', ['<s>', '▁hello', '', 'Ġworld', '\n']),
  'test.i32s': ggufValue.array('int32', new Int32Array([1, -2, 3, 6, 6])),
  'test.u32s': ggufValue.array('uint32', [0, 4294967295]),
  'test.f32s': ggufValue.array('float32', new Float32Array([0, -1.5, 1e-3, -1000])),
  'test.bools': ggufValue.array('bool', [true, false, true]),
  'test.u64s': ggufValue.array('uint64', [1n, 2n ** 50n]),
  'test.empty_array': ggufValue.array('int32', []),
};

const TYPE_IDS: Record<string, GGUFValueType> = {
  uint8: GGUFValueType.UINT8,
  int8: GGUFValueType.INT8,
  uint16: GGUFValueType.UINT16,
  int16: GGUFValueType.INT16,
  uint32: GGUFValueType.UINT32,
  int32: GGUFValueType.INT32,
  float32: GGUFValueType.FLOAT32,
  bool: GGUFValueType.BOOL,
  string: GGUFValueType.STRING,
  uint64: GGUFValueType.UINT64,
  int64: GGUFValueType.INT64,
  float64: GGUFValueType.FLOAT64,
};

/** What the library should read for a value we wrote: {value, type, subType}. */
function expectedTyped(value: GgufValue): { value: unknown; type: GGUFValueType; subType?: GGUFValueType } {
  if (typeof value === 'string') return { value, type: GGUFValueType.STRING };
  if (typeof value === 'boolean') return { value, type: GGUFValueType.BOOL };
  if (value.type === 'array') {
    const is64 = value.itemType === 'uint64' || value.itemType === 'int64';
    const items = Array.from(value.values as ArrayLike<unknown>, (v) =>
      value.itemType === 'float32' ? Math.fround(v as number) : is64 ? BigInt(v as number | bigint) : v,
    );
    return { value: items, type: GGUFValueType.ARRAY, subType: TYPE_IDS[value.itemType] };
  }
  const is64 = value.type === 'uint64' || value.type === 'int64';
  const v = value.type === 'float32' ? Math.fround(Number(value.value)) : is64 ? BigInt(value.value) : value.value;
  return { value: v, type: TYPE_IDS[value.type] };
}

describe('writeGguf', () => {
  for (const version of [2, 3] as const) {
    it(`v${version}: @huggingface/gguf reads back every metadata value and tensor info, tensors of every type`, async () => {
      const tensors = tensorsOfEveryType();
      const bytes = writeGguf({ version, metadata: METADATA, tensors });
      const parsed = await parseWithLibrary(bytes);

      expect(parsed.metadata.version).toBe(version);
      expect(parsed.metadata.tensor_count).toBe(BigInt(tensors.length));
      expect(parsed.metadata.kv_count).toBe(BigInt(Object.keys(METADATA).length));
      expect(parsed.littleEndian).toBe(true);
      for (const [key, value] of Object.entries(METADATA)) {
        const typed = parsed.typedMetadata[key];
        expect(typed, key).toEqual(expectedTyped(value));
      }

      expect(parsed.tensorInfos.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
      const dataOffset = Number(parsed.tensorDataOffset);
      expect(dataOffset % 32).toBe(0);
      parsed.tensorInfos.forEach((info, i) => {
        const tensor = tensors[i];
        expect(info.n_dims).toBe(tensor.shape.length);
        expect(info.shape).toEqual(tensor.shape.map(BigInt));
        expect(info.dtype as number).toBe(GGML_TYPE_ID[tensor.type]);
        const offset = Number(info.offset);
        expect(offset % 32).toBe(0);
        expect(bytes.subarray(dataOffset + offset, dataOffset + offset + tensor.data.length)).toEqual(tensor.data);
      });
      // The last tensor is padded to the alignment too, as llama.cpp writes it.
      expect(bytes.length % 32).toBe(0);
    });
  }

  it('v2 and v3 files differ only in the version field', () => {
    const tensors = tensorsOfEveryType();
    const v2 = writeGguf({ version: 2, metadata: METADATA, tensors });
    const v3 = writeGguf({ version: 3, metadata: METADATA, tensors });
    expect(v2.length).toBe(v3.length);
    expect(v2[4]).toBe(2);
    expect(v3[4]).toBe(3);
    expect(v2.subarray(8)).toEqual(v3.subarray(8));
  });

  it('honours a larger alignment and records it as general.alignment', async () => {
    const tensors = tensorsOfEveryType();
    const bytes = writeGguf({ metadata: { 'general.architecture': 'llama' }, tensors, alignment: 64 });
    const parsed = await parseWithLibrary(bytes);
    expect(parsed.typedMetadata['general.alignment']).toEqual({ value: 64, type: GGUFValueType.UINT32 });
    const dataOffset = Number(parsed.tensorDataOffset);
    expect(dataOffset % 64).toBe(0);
    parsed.tensorInfos.forEach((info, i) => {
      expect(Number(info.offset) % 64).toBe(0);
      const start = dataOffset + Number(info.offset);
      expect(bytes.subarray(start, start + tensors[i].data.length)).toEqual(tensors[i].data);
    });
  });

  it('writes a file with no tensors and no metadata', async () => {
    const parsed = await parseWithLibrary(writeGguf({ metadata: {}, tensors: [] }));
    expect(parsed.tensorInfos).toEqual([]);
    expect(parsed.metadata.kv_count).toBe(0n);
  });

  it('rejects malformed input, naming the problem', () => {
    const q = (type: GgmlType, n: number) => quantize(type, new Float32Array(n));
    const write = (tensors: GgufTensorInput[], metadata: Record<string, GgufValue> = {}) => () =>
      writeGguf({ metadata, tensors });
    expect(write([{ name: 'a', type: 'F32', shape: [4, 2], data: q('F32', 4) }])).toThrow(/"a".*takes 32 bytes, data has 16/);
    expect(write([{ name: 'a', type: 'Q4_K', shape: [128, 2], data: q('Q4_K', 256) }])).toThrow(/blocks of 256.*ne\[0\] is 128/);
    expect(
      write([
        { name: 'a', type: 'F32', shape: [1], data: q('F32', 1) },
        { name: 'a', type: 'F32', shape: [1], data: q('F32', 1) },
      ]),
    ).toThrow(/two tensors are named "a"/);
    expect(write([{ name: 'x'.repeat(64), type: 'F32', shape: [1], data: q('F32', 1) }])).toThrow(/1 to 63 bytes/);
    expect(write([{ name: 'a', type: 'F32', shape: [1, 1, 1, 1, 1], data: q('F32', 1) }])).toThrow(/shape/);
    expect(write([], { 'x.y': ggufValue.u8(256) })).toThrow(/x\.y: 256 is not a valid uint8/);
    expect(write([], { 'x.y': ggufValue.u32(1.5) })).toThrow(/not a valid uint32/);
    expect(write([], { 'x.y': ggufValue.array('string', [1, 2] as unknown as string[]) })).toThrow(/x\.y\[0\]: expected a string/);
    expect(() => writeGguf({ metadata: {}, tensors: [], alignment: 12 })).toThrow(/power of two/);
    expect(() => writeGguf({ metadata: { 'general.alignment': ggufValue.u32(64) }, tensors: [], alignment: 32 })).toThrow(
      /contradicts/,
    );
  });
});

describe('writeGgufStreamed', () => {
  it('writes the bytes writeGguf does, asking for each tensor once, in order, after the header', async () => {
    const tensors = tensorsOfEveryType();
    const whole = writeGguf({ metadata: METADATA, tensors, alignment: 64 });
    const chunks: Uint8Array[] = [];
    const asked: number[] = [];
    const layout = await writeGgufStreamed(
      { metadata: METADATA, tensors: tensors.map(({ name, type, shape }) => ({ name, type, shape })), alignment: 64 },
      async (tensor, i) => {
        expect(chunks.length).toBeGreaterThan(0);
        expect(tensor.name).toBe(tensors[i].name);
        asked.push(i);
        return tensors[i].data;
      },
      async (bytes) => {
        chunks.push(bytes.slice());
      },
    );
    expect(asked).toEqual(tensors.map((_, i) => i));
    expect(chunks[0]).toEqual(layout.header);
    expect(layout.fileBytes).toBe(whole.length);
    const streamed = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      streamed.set(c, at);
      at += c.length;
    }
    expect(streamed).toEqual(whole);
  });

  it('knows the layout before any data, and rejects data of the wrong size', async () => {
    const layout = ggufLayout({ metadata: {}, tensors: [{ name: 'a', type: 'F16', shape: [3] }, { name: 'b', type: 'Q8_0', shape: [32, 2] }] });
    expect(layout.tensors.map((t) => [t.offset, t.bytes])).toEqual([[0, 6], [32, 68]]);
    expect(layout.fileBytes).toBe(layout.header.length + 32 + 96);
    await expect(
      writeGgufStreamed({ metadata: {}, tensors: [{ name: 'a', type: 'F32', shape: [4] }] }, () => new Uint8Array(12), async () => {}),
    ).rejects.toThrow(/"a".*takes 16 bytes, data has 12/);
  });
});
