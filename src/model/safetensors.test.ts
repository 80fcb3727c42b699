import { describe, expect, it } from 'vitest';
import { readFixtureBytes, REFERENCE_CASES } from '../testdata/cases.testing';
import { randomArray } from '../util/random';
import {
  decodeToFloat32,
  headerByteLength,
  parseSafetensorsHeader,
  readSafetensors,
  writeSafetensors,
} from './safetensors';

/** Builds a file from a header object and raw data, the way a hand-written or broken writer might. */
function rawFile(header: unknown, data: Uint8Array, headerLengthOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLengthOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors write/read', () => {
  it('round-trips float32 tensors and metadata', () => {
    const tensors = {
      'b.weight': { shape: [3, 5], data: randomArray(15, 1) },
      'a.weight': { shape: [7], data: randomArray(7, 2) },
      scalar: { shape: [], data: new Float32Array([42]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    };
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const headerLength = headerByteLength(bytes.subarray(0, 8));
    expect((8 + headerLength) % 8).toBe(0);

    const file = readSafetensors(bytes);
    expect(file.header.metadata).toEqual({ format: 'pt' });
    expect(file.header.dataOffset).toBe(8 + headerLength);
    for (const [name, { shape, data }] of Object.entries(tensors)) {
      expect(file.has(name)).toBe(true);
      expect(file.info(name).shape).toEqual(shape);
      expect(file.info(name).dtype).toBe('F32');
      expect(file.tensor(name)).toEqual(data);
    }
    expect(file.has('missing')).toBe(false);
    expect(() => file.tensor('missing')).toThrow(/no tensor named "missing"/);
  });

  it('lays out data like the Python writer: sorted names, contiguous offsets', () => {
    const bytes = writeSafetensors({
      z: { shape: [2], data: new Float32Array([1, 2]) },
      a: { shape: [1], data: new Float32Array([3]) },
    });
    const header = parseSafetensorsHeader(bytes);
    expect([...header.tensors.values()].map((t) => [t.name, t.begin, t.end])).toEqual([
      ['a', 0, 4],
      ['z', 4, 12],
    ]);
    expect(header.metadata).toEqual({});
    const json = new TextDecoder().decode(bytes.subarray(8, header.dataOffset));
    expect(json.trimEnd()).toBe(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
    );
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => writeSafetensors({ x: { shape: [2, 3], data: new Float32Array(5) } })).toThrow(/"x".*6 elements.*5/);
  });

  it('parses the header from the first 8 + N bytes when told the file size', () => {
    const bytes = writeSafetensors({ w: { shape: [4, 4], data: randomArray(16, 3) } });
    const headerLength = headerByteLength(bytes);
    const header = parseSafetensorsHeader(bytes.slice(0, 8 + headerLength), bytes.length);
    expect(header.tensors.get('w')).toEqual({ name: 'w', dtype: 'F32', shape: [4, 4], begin: 0, end: 64 });
    // Without the size, the header alone looks like a truncated file.
    expect(() => parseSafetensorsHeader(bytes.slice(0, 8 + headerLength))).toThrow(/truncated.*"w"/);
  });
});

describe('safetensors fixtures', () => {
  for (const name of REFERENCE_CASES) {
    it(`reads ${name} model, adapter and expected files`, async () => {
      const model = readSafetensors(await readFixtureBytes(`reference/${name}/model.safetensors`));
      const adapter = readSafetensors(await readFixtureBytes(`reference/${name}/adapter_model.safetensors`));
      const expected = readSafetensors(await readFixtureBytes(`reference/${name}/expected.safetensors`));
      expect(model.header.metadata).toEqual({ format: 'pt' });

      const embed = model.info('model.embed_tokens.weight');
      const [vocab, hidden] = embed.shape;
      expect(model.info('model.norm.weight').shape).toEqual([hidden]);
      expect(model.info('model.layers.1.self_attn.q_proj.weight').shape).toEqual([hidden, hidden]);
      expect(model.has('lm_head.weight')).toBe(name !== 'llama3-tiny');
      const embedding = model.tensor('model.embed_tokens.weight');
      expect(embedding.length).toBe(vocab * hidden);
      expect(embedding.every(Number.isFinite)).toBe(true);

      const loraA = adapter.info('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
      expect(loraA.shape).toEqual([4, hidden]);
      expect(adapter.info('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight').shape).toEqual([hidden, 4]);

      const logits = expected.info('logits');
      expect(logits.shape[2]).toBe(vocab);
      expect(expected.info('token_loss').shape).toEqual(logits.shape.slice(0, 2));
      const gradKey = 'grad.base_model.model.model.layers.1.mlp.up_proj.lora_B.weight';
      expect(expected.info(gradKey).shape).toEqual(adapter.info(gradKey.slice('grad.'.length)).shape);
    });
  }
});

describe('safetensors corrupt input', () => {
  const goodHeader = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
  const goodData = new Uint8Array(16);

  it('accepts the good file these cases break', () => {
    expect(readSafetensors(rawFile(goodHeader, goodData)).tensor('w')).toEqual(new Float32Array(4));
  });

  it('rejects files too short for a header length', () => {
    expect(() => parseSafetensorsHeader(new Uint8Array(5))).toThrow(/not a safetensors file.*5 bytes/);
  });

  it('rejects an absurd header length', () => {
    const gguf = new TextEncoder().encode('GGUF\x03\x00\x00\x00\x10\x00\x00\x00');
    expect(() => parseSafetensorsHeader(gguf)).toThrow(/not a safetensors file: header length/);
    expect(() => parseSafetensorsHeader(rawFile(goodHeader, goodData, 0))).toThrow(/header length 0/);
  });

  it('rejects a header length past the end of the file', () => {
    expect(() => parseSafetensorsHeader(rawFile(goodHeader, new Uint8Array(0), 5000))).toThrow(/truncated/);
  });

  it('rejects a header that is not JSON', () => {
    const bytes = rawFile(goodHeader, goodData);
    bytes[9] = 0x3a; // ':' after the opening brace
    expect(() => parseSafetensorsHeader(bytes)).toThrow(/not valid JSON/);
    expect(() => parseSafetensorsHeader(rawFile([1, 2], goodData))).toThrow(/does not start with "{"/);
  });

  it('rejects truncated data, naming the tensor', () => {
    expect(() => readSafetensors(rawFile(goodHeader, new Uint8Array(12)))).toThrow(
      /truncated: tensor "w" ends at data byte 16.*12 bytes/,
    );
  });

  it('rejects overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
    };
    expect(() => readSafetensors(rawFile(header, goodData))).toThrow(/"b" \[8, 16\] overlaps tensor "a" \[0, 16\]/);
  });

  it('rejects offsets that do not match dtype and shape', () => {
    const header = { w: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 16] } };
    expect(() => readSafetensors(rawFile(header, goodData))).toThrow(/"w".*16 bytes.*F16 \[2,2\] needs 8/);
    const reversed = { w: { dtype: 'F32', shape: [0], data_offsets: [16, 0] } };
    expect(() => readSafetensors(rawFile(reversed, goodData))).toThrow(/"w": data_offsets \[16,0\]/);
  });

  it('rejects unknown dtypes and bad shapes', () => {
    const badDtype = { w: { dtype: 'Q4_K', shape: [4], data_offsets: [0, 16] } };
    expect(() => readSafetensors(rawFile(badDtype, goodData))).toThrow(/"w": unsupported dtype "Q4_K"/);
    const badShape = { w: { dtype: 'F32', shape: [4, -1], data_offsets: [0, 16] } };
    expect(() => readSafetensors(rawFile(badShape, goodData))).toThrow(/"w": shape \[4,-1\]/);
    const badMetadata = { __metadata__: { n: 3 }, ...goodHeader };
    expect(() => readSafetensors(rawFile(badMetadata, goodData))).toThrow(/__metadata__ "n" is not a string/);
  });

  it('refuses to convert integer tensors to float', () => {
    const header = { ids: { dtype: 'I32', shape: [4], data_offsets: [0, 16] } };
    const file = readSafetensors(rawFile(header, goodData));
    expect(file.tensorBytes('ids').length).toBe(16);
    expect(() => file.tensor('ids')).toThrow(/"ids" is I32, not a float dtype/);
  });
});

describe('safetensors half-precision decoding', () => {
  // [bits, value]: normal, negative, largest, smallest normal, subnormal, zero, infinity.
  const f16Cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x8000, -0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const bf16Cases: [number, number][] = [
    [0x3f80, 1],
    [0xc0a0, -5],
    [0x3eab, 0.333984375],
    [0x7f7f, 3.3895313892515355e38],
    [0x0001, 9.183549615799121e-41],
    [0xff80, -Infinity],
  ];

  function halfFile(dtype: 'F16' | 'BF16', bits: number[], offset: number): Uint8Array {
    // Put the tensor after a 1-element U8 tensor so that its data is not 2- or 4-byte aligned in the file.
    const data = new Uint8Array(offset + 2 * bits.length);
    const view = new DataView(data.buffer);
    bits.forEach((b, i) => view.setUint16(offset + 2 * i, b, true));
    const header = {
      pad: { dtype: 'U8', shape: [offset], data_offsets: [0, offset] },
      h: { dtype, shape: [bits.length], data_offsets: [offset, offset + 2 * bits.length] },
    };
    return rawFile(header, data);
  }

  for (const [dtype, cases] of [['F16', f16Cases], ['BF16', bf16Cases]] as const) {
    it(`decodes ${dtype}`, () => {
      for (const offset of [0, 1, 3]) {
        const file = readSafetensors(halfFile(dtype, cases.map(([b]) => b), offset));
        const values = file.tensor('h');
        expect(Array.from(values)).toEqual(cases.map(([, v]) => Math.fround(v)));
      }
    });
  }

  it('decodes NaN in both formats', () => {
    const f16 = decodeToFloat32('F16', new Uint8Array([0x00, 0x7e]));
    const bf16 = decodeToFloat32('BF16', new Uint8Array([0xc0, 0x7f]));
    expect(Number.isNaN(f16[0])).toBe(true);
    expect(Number.isNaN(bf16[0])).toBe(true);
  });

  it('decodes every normal F16 value like a bit-level widening to F32', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const values = decodeToFloat32('F16', new Uint8Array(bits.buffer));
    const widened = new Float32Array(1);
    const widenedBits = new Uint32Array(widened.buffer);
    const mismatches: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const exponent = (i >> 10) & 0x1f;
      if (exponent === 0 || exponent === 31) continue;
      widenedBits[0] = ((i & 0x8000) << 16) | ((exponent - 15 + 127) << 23) | ((i & 0x3ff) << 13);
      if (!Object.is(values[i], widened[0])) mismatches.push(i);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('readSafetensors on a Node Buffer', () => {
  it('decodes the same tensors as from a plain Uint8Array (Buffer.slice is a view into a pool)', () => {
    const data = Float32Array.from({ length: 10 }, (_, i) => i + 0.5);
    const bytes = writeSafetensors({ w: { shape: [10], data } });
    const pooled = Buffer.concat([Buffer.alloc(3, 7), Buffer.from(bytes)]).subarray(3);
    expect(Array.from(readSafetensors(pooled).tensor('w'))).toEqual(Array.from(data));
  });
});
