import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { mulberry32 } from '../../util/random';
import { type GgmlType, blockBytes, blockSize, quantize } from '../ggml';
import { ALL_FINITE, findNonFinite } from './finite';
import { SCALE_FIELDS, firstNonFiniteRef } from './finite.reference';

interface Case {
  name: string;
  type: GgmlType;
  bytes: Uint8Array;
  elements: number;
}

/** Random finite values (some at f16's largest finite value), encoded as `type`. */
function tensor(type: GgmlType, elements: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const values = Float32Array.from({ length: elements }, (_, i) => (i % 97 === 5 ? 65504 : (next() * 2 - 1) * 3));
  return quantize(type, values);
}

/** The bytes with value (or block scale field) `index` made NaN or infinite. */
function poison(type: GgmlType, bytes: Uint8Array, index: number, kind: 'nan' | 'inf', field = 0): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  if (type === 'F32') view.setFloat32(4 * index, kind === 'nan' ? Number.NaN : -Infinity, true);
  else if (type === 'F16') view.setUint16(2 * index, kind === 'nan' ? 0x7e00 : 0xfc00, true);
  else if (type === 'BF16') view.setUint16(2 * index, kind === 'nan' ? 0x7fc1 : 0x7f80, true);
  else {
    const fields = SCALE_FIELDS[type]!;
    view.setUint16(index * blockBytes(type) + fields[field % fields.length].offset, kind === 'nan' ? 0x7e01 : 0x7c00, true);
  }
  return out;
}

function cases(): Case[] {
  const out: Case[] = [];
  // Sizes that are not multiples of the 256-thread workgroup, F16/BF16 with an odd count (a half-used last word).
  const sizes: Record<GgmlType, number> = {
    F32: 1000 + 7, F16: 777, BF16: 513, Q8_0: 32 * 37, Q4_0: 32 * 301, Q4_1: 32 * 19, Q4_K: 256 * 5, Q5_K: 256 * 3, Q6_K: 256 * 7,
  };
  let seed = 1;
  for (const type of Object.keys(sizes) as GgmlType[]) {
    const elements = sizes[type];
    const units = elements / blockSize(type);
    const clean = tensor(type, elements, seed++);
    const next = mulberry32(seed++);
    const somewhere = Math.floor(next() * units);
    out.push({ name: `${type} clean`, type, bytes: clean, elements });
    out.push({ name: `${type} one NaN`, type, bytes: poison(type, clean, somewhere, 'nan'), elements });
    out.push({ name: `${type} last is infinite`, type, bytes: poison(type, clean, units - 1, 'inf', 1), elements });
    const later = Math.min(units - 1, somewhere + 3);
    out.push({ name: `${type} two: the first counts`, type, bytes: poison(type, poison(type, clean, later, 'inf'), somewhere, 'nan', 1), elements });
  }
  // Past one workgroup (256 threads x 16 units): bad units in the second and third workgroups, at odd places.
  for (const type of ['F32', 'Q8_0'] as GgmlType[]) {
    const units = 4096 * 2 + 301;
    const elements = units * blockSize(type);
    const clean = tensor(type, elements, seed++);
    out.push({ name: `${type} ${units} units, clean`, type, bytes: clean, elements });
    out.push({ name: `${type} ${units} units, bad in workgroup 2`, type, bytes: poison(type, clean, 4096 + 257, 'nan'), elements });
    out.push({ name: `${type} ${units} units, bad in workgroup 3 and later`, type, bytes: poison(type, poison(type, clean, units - 2, 'inf'), 8192 + 17, 'inf'), elements });
  }
  return out;
}

describe('findNonFinite against the CPU reference', () => {
  it('every type, finite and poisoned, in one firstBad buffer read once; tensors at an offset in a shared buffer', async () => {
    const gpu = await testGpu();
    const all = cases();
    const firstBad = gpu.upload('first_bad', new Uint32Array(all.length).fill(ALL_FINITE));
    // All tensors in one buffer, each at a 4-byte aligned offset, with 0xFF bytes (an F32 NaN) between them.
    const offsets: number[] = [];
    let size = 0;
    for (const c of all) {
      offsets.push(size);
      size += Math.ceil(c.bytes.length / 4) * 4 + 8;
    }
    const packed = new Uint8Array(size).fill(0xff);
    all.forEach((c, i) => {
      packed.set(c.bytes, offsets[i]);
      packed.fill(0, offsets[i] + c.bytes.length, Math.ceil((offsets[i] + c.bytes.length) / 4) * 4);
    });
    const weights = gpu.upload('weights', packed);
    await gpu.submit((encoder) => {
      all.forEach((c, slot) => findNonFinite(gpu, encoder, { buffer: weights, byteOffset: offsets[slot], type: c.type, elements: c.elements, firstBad, slot }));
    });
    const got = new Uint32Array(await gpu.read(firstBad));
    gpu.destroy(firstBad, weights);
    const results = all.map((c, slot) => ({ name: c.name, gpu: got[slot] === ALL_FINITE ? null : got[slot], cpu: firstNonFiniteRef(c.type, c.bytes, c.elements) }));
    for (const r of results) expect(r.gpu, r.name).toBe(r.cpu);
    // The cases do what they say.
    expect(results.filter((r) => r.name.endsWith('clean')).every((r) => r.cpu === null)).toBe(true);
    expect(results.filter((r) => !r.name.endsWith('clean')).every((r) => r.cpu !== null)).toBe(true);
  });

  it('rejects a size that is not whole blocks, a misaligned start and a slot outside firstBad', async () => {
    const gpu = await testGpu();
    const buffer = gpu.buffer('w', 256);
    const firstBad = gpu.buffer('first_bad', 8);
    const encoder = gpu.device.createCommandEncoder();
    expect(() => findNonFinite(gpu, encoder, { buffer, type: 'Q8_0', elements: 40, firstBad, slot: 0 })).toThrow(/not a whole number of blocks of 32/);
    expect(() => findNonFinite(gpu, encoder, { buffer, byteOffset: 2, type: 'F32', elements: 4, firstBad, slot: 0 })).toThrow(/not a multiple of 4/);
    expect(() => findNonFinite(gpu, encoder, { buffer, type: 'F32', elements: 65, firstBad, slot: 0 })).toThrow(/do not fit/);
    expect(() => findNonFinite(gpu, encoder, { buffer, type: 'F32', elements: 4, firstBad, slot: 2 })).toThrow(/slot 2 is outside/);
    gpu.destroy(buffer, firstBad);
  });
});
