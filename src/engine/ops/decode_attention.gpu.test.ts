import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { type DecodeShape, appendKv, attendCache, decodeScoresBytes } from './decode_attention';
import { appendKvReference, attendCacheReference } from './decode_attention.reference';

const shapes: (DecodeShape & { positions: number[] })[] = [
  { batch: 1, capacity: 1, heads: 1, kvHeads: 1, headDim: 4, window: 0, positions: [0] },
  { batch: 3, capacity: 37, heads: 4, kvHeads: 2, headDim: 32, window: 0, positions: [0, 36, 17] },
  { batch: 2, capacity: 150, heads: 6, kvHeads: 1, headDim: 20, window: 0, positions: [149, 70] },
  { batch: 2, capacity: 90, heads: 4, kvHeads: 4, headDim: 16, window: 8, positions: [3, 89] },
  { batch: 1, capacity: 300, heads: 2, kvHeads: 1, headDim: 128, window: 100, positions: [250] },
];

describe('decode attention over a KV cache (GQA/MQA, sliding window, per-sequence positions)', () => {
  for (const { positions, ...shape } of shapes) {
    it(`batch ${shape.batch} capacity ${shape.capacity} heads ${shape.heads}/${shape.kvHeads} dim ${shape.headDim} window ${shape.window}`, async () => {
      const gpu = await testGpu();
      const width = shape.kvHeads * shape.headDim;
      const kCache0 = randomArray(shape.batch * shape.capacity * width, 1);
      const vCache0 = randomArray(shape.batch * shape.capacity * width, 2);
      const newK = randomArray(shape.batch * width, 3);
      const newV = randomArray(shape.batch * width, 4);
      const q = randomArray(shape.batch * shape.heads * shape.headDim, 5);
      const buffers = {
        k: gpu.upload('k', newK), v: gpu.upload('v', newV), q: gpu.upload('q', q),
        positions: gpu.upload('positions', Uint32Array.from(positions)),
        kCache: gpu.upload('k_cache', kCache0), vCache: gpu.upload('v_cache', vCache0),
        scores: gpu.buffer('scores', decodeScoresBytes(shape)), out: gpu.buffer('out', q.byteLength),
      };
      await gpu.submit((encoder) => {
        appendKv(gpu, encoder, { ...shape, ...buffers });
        attendCache(gpu, encoder, { ...shape, ...buffers });
      });
      const kCache = appendKvReference(shape, kCache0, newK, positions);
      const vCache = appendKvReference(shape, vCache0, newV, positions);
      expect(await gpu.readF32(buffers.kCache)).toEqual(kCache);
      expect(await gpu.readF32(buffers.vCache)).toEqual(vCache);
      const want = attendCacheReference(shape, q, kCache, vCache, positions);
      expect(maxRelError(await gpu.readF32(buffers.out), want)).toBeLessThan(1e-5);
      gpu.destroy(...Object.values(buffers));
    });
  }

  it('refuses shapes it cannot run', async () => {
    const gpu = await testGpu();
    const b = gpu.buffer('b', 16);
    const encoder = gpu.device.createCommandEncoder();
    const args = { batch: 1, capacity: 4, heads: 3, kvHeads: 2, headDim: 8, window: 0, q: b, kCache: b, vCache: b, positions: b, scores: b, out: b };
    expect(() => attendCache(gpu, encoder, args)).toThrow(/not a multiple of kvHeads/);
    expect(() => attendCache(gpu, encoder, { ...args, heads: 2, headDim: 256 })).toThrow(/headDim 256/);
    expect(() => attendCache(gpu, encoder, { ...args, heads: 2 })).toThrow(/score scratch needs 32 bytes/);
    gpu.destroy(b);
  });
});
