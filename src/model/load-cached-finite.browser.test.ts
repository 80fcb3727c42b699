// Loading from the model cache checks every weight for NaN and infinities on the GPU as it uploads (the kernel is
// tested against its CPU reference in src/engine/ops/finite.gpu.test.ts; this is the load path around it).
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALPHABET } from '../data/tokenizer';
import { type ModelSpec, baseWeightShapes } from '../engine/spec';
import type { Gpu } from '../gpu/gpu';
import { testGpu } from '../gpu/gpu.testing';
import { randomArray } from '../util/random';
import { characterTokenizerJson } from './embedded';
import { ggufFromHfModel } from './gguf/convert';
import { loadCachedModel } from './load-cached';
import { ModelCache } from './sources/cache';
import type { CachedModel } from './sources/library';

const inBrowser = typeof window !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';

const SPEC: ModelSpec = {
  arch: 'llama', vocabSize: 64, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 16, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, slidingWindow: null, tieWordEmbeddings: false,
  maxPositionEmbeddings: 256, bosTokenId: 1, eosTokenId: 2,
};
const TOKENIZER = {
  tokenizer: characterTokenizerJson(DEFAULT_ALPHABET, SPEC.vocabSize),
  config: { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' },
};

/** A Q8_0 GGUF of random weights; `poison` changes one value of one tensor. */
function gguf(poison?: { tensor: string; index: number; value: number }): Uint8Array {
  const weights = new Map<string, Float32Array>();
  let seed = 1;
  for (const [name, shape] of baseWeightShapes(SPEC)) {
    const data = randomArray(shape.reduce((a, b) => a * b, 1), seed++, 0.3);
    if (poison?.tensor === name) data[poison.index] = poison.value;
    weights.set(name, data);
  }
  return ggufFromHfModel({ spec: SPEC, type: 'Q8_0', tensors: (name) => weights.get(name), tokenizer: TOKENIZER });
}

describe.runIf(inBrowser)('loadCachedModel refuses weights that are not finite', () => {
  const cache = inBrowser ? new ModelCache({ name: 'test-load-finite', database: 'test-load-finite' }) : (null as unknown as ModelCache);
  let gpu: Gpu;

  async function manifest(key: string, bytes: Uint8Array): Promise<CachedModel> {
    const writer = await cache.write(key, { size: bytes.length });
    await writer.write(bytes);
    await writer.close();
    return { id: key, name: key, origin: { kind: 'file', names: [key] }, format: 'gguf', weights: [key], bytes: 0, addedAt: 0 };
  }

  beforeAll(async () => {
    gpu = await testGpu();
    for (const record of await cache.list()) await cache.delete(record.key);
  });

  it('a NaN in a quantized weight (its block scale) and an infinity in a norm: named, nothing left on the GPU', async () => {
    const before = gpu.allocatedBytes;
    const clean = await loadCachedModel(gpu, await manifest('finite/clean.gguf', gguf()), { cache });
    clean.model.destroy();
    expect(gpu.allocatedBytes).toBe(before);

    // Value 100 of up_proj [96, 64] is in row 1, block 1 of that row: block 3 of the tensor.
    const nan = await manifest('finite/nan.gguf', gguf({ tensor: 'model.layers.1.mlp.up_proj.weight', index: 100, value: Number.NaN }));
    await expect(loadCachedModel(gpu, nan, { cache })).rejects.toThrow(
      'finite/nan.gguf: finite/nan.gguf: tensor "blk.1.ffn_up.weight" (Q8_0) is not finite: its block 3 (values 96..127) has a NaN or infinite f16 scale.',
    );
    expect(gpu.allocatedBytes).toBe(before);

    const inf = await manifest('finite/inf.gguf', gguf({ tensor: 'model.norm.weight', index: 5, value: Infinity }));
    await expect(loadCachedModel(gpu, inf, { cache })).rejects.toThrow(/finite\/inf\.gguf: tensor "output_norm\.weight" \(F32\) is not finite: its value 5 is NaN or infinite/);
    expect(gpu.allocatedBytes).toBe(before);
  });
});
