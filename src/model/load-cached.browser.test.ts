// Browser tests (Chromium, `gpu` project): tiny models written into a throwaway ModelCache (OPFS) with the
// project's own writers, loaded with loadCachedModel, and checked against Model.fromTensors on the f32 values
// of the same files; bad files must fail naming the problem and leave no GPU buffer behind.
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALPHABET } from '../data/tokenizer';
import { LoraAdapter } from '../engine/lora';
import { type GpuTensor, Model, type TensorLookup } from '../engine/weights';
import { readGgufBaseModel } from '../reference/case';
import { type ModelSpec, baseWeightShapes } from '../engine/spec';
import { Trainer } from '../engine/trainer';
import type { Gpu } from '../gpu/gpu';
import { maxRelError, testGpu } from '../gpu/gpu.testing';
import { randomArray } from '../util/random';
import { characterTokenizerJson } from './embedded';
import { ggufFromHfModel } from './gguf/convert';
import { type GgmlType, bf16BitsToF32, dequantize, f32ToBf16Bits, f32ToF16Bits, quantize, roundToF16 } from '../engine/ggml';
import { ggufNameOfHfTensor, permuteQkRows } from './gguf/spec';
import { type GgufTensorInput, type GgufValue, ggufValue, writeGguf } from './gguf/writer';
import { type LoadedModel, ModelLoadError, loadCachedModel, loadCachedTokenizer } from './load-cached';
import { tensorsOf, writeSafetensors } from './safetensors';
import { createStore, get, set } from 'idb-keyval';
import { type CachedFile, ModelCache } from './sources/cache';
import type { CachedModel } from './sources/library';
import type { TokenizerFiles } from './tokenizer';

const inBrowser = typeof window !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';

const SMALL: ModelSpec = {
  arch: 'llama', vocabSize: 64, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 16, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, slidingWindow: null, tieWordEmbeddings: false,
  maxPositionEmbeddings: 256, bosTokenId: 1, eosTokenId: 2,
};
/** K-quants need rows of 256 values. */
const WIDE: ModelSpec = { ...SMALL, hiddenSize: 256, intermediateSize: 256, numLayers: 1, headDim: 64 };
/** Over 2 MB as F32, so that reading the header does not reach the end of the file. */
const LARGE: ModelSpec = { ...WIDE, intermediateSize: 512, numLayers: 2 };

const TOKENIZER: TokenizerFiles = {
  tokenizer: characterTokenizerJson(DEFAULT_ALPHABET, SMALL.vocabSize),
  config: { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' },
};

const IDS = [1, 5, 9, 17, 33, 40, 12, 7, 60, 3, 25];
const BATCH = { inputIds: [IDS], attentionMask: [IDS.map(() => 1)], labels: [IDS.map(() => -100)], answerSpans: [[]] };

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/** Random weights of every tensor the spec needs (norms near 1). */
function randomWeights(spec: ModelSpec, seed: number): Weights {
  const weights: Weights = new Map();
  let n = seed;
  for (const [name, shape] of baseWeightShapes(spec)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = randomArray(count, n++, shape.length === 1 ? 0.2 : 0.3);
    if (shape.length === 1) for (let i = 0; i < count; i++) data[i] += 1;
    weights.set(name, { shape, data });
  }
  return weights;
}

function hfConfig(spec: ModelSpec): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: spec.vocabSize, hidden_size: spec.hiddenSize,
    intermediate_size: spec.intermediateSize, num_hidden_layers: spec.numLayers, num_attention_heads: spec.numHeads,
    num_key_value_heads: spec.numKvHeads, head_dim: spec.headDim, rms_norm_eps: spec.rmsNormEps, rope_theta: spec.ropeTheta,
    max_position_embeddings: spec.maxPositionEmbeddings, tie_word_embeddings: spec.tieWordEmbeddings, bos_token_id: 1, eos_token_id: 2,
  };
}

const lookup = (weights: Weights): TensorLookup => (name) => weights.get(name);

/** A safetensors file of F16 or BF16 tensors (writeSafetensors writes F32 only). */
function halfSafetensors(tensors: [string, { shape: number[]; data: Float32Array }][], dtype: 'F16' | 'BF16'): Uint8Array {
  const toBits = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + 2 * data.length] };
    offset += 2 * data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8, ' '));
  const file = new Uint8Array(8 + json.length + offset);
  const view = new DataView(file.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  let at = 8 + json.length;
  for (const [, { data }] of tensors) {
    for (const value of data) {
      view.setUint16(at, toBits(value), true);
      at += 2;
    }
  }
  return file;
}

/** The weights as a 16-bit dtype rounds them. */
function rounded(weights: Weights, dtype: 'F16' | 'BF16'): Weights {
  const round = dtype === 'F16' ? roundToF16 : (x: number) => bf16BitsToF32(f32ToBf16Bits(x));
  return new Map([...weights].map(([name, t]) => [name, { shape: t.shape, data: t.data.map(round) }]));
}

/** llama.cpp's metadata for a spec (no tokenizer), as the converter writes it. */
function llamaMetadata(spec: ModelSpec, architecture = 'llama'): Record<string, GgufValue> {
  const { u32, f32 } = ggufValue;
  return {
    'general.architecture': architecture,
    'llama.vocab_size': u32(spec.vocabSize),
    'llama.context_length': u32(spec.maxPositionEmbeddings),
    'llama.embedding_length': u32(spec.hiddenSize),
    'llama.block_count': u32(spec.numLayers),
    'llama.feed_forward_length': u32(spec.intermediateSize),
    'llama.attention.head_count': u32(spec.numHeads),
    'llama.attention.head_count_kv': u32(spec.numKvHeads),
    'llama.attention.layer_norm_rms_epsilon': f32(spec.rmsNormEps),
    'llama.rope.freq_base': f32(spec.ropeTheta),
    'tokenizer.ggml.bos_token_id': u32(1),
    'tokenizer.ggml.eos_token_id': u32(2),
  };
}

/** The GGUF tensors of the weights, as llama.cpp lays them out (matrices in `type`, q/k rows permuted). */
function llamaTensors(spec: ModelSpec, weights: Weights, type: GgmlType): GgufTensorInput[] {
  return [...weights].map(([name, { shape, data }]) => {
    const gguf = ggufNameOfHfTensor(name) as string;
    if (shape.length === 1) return { name: gguf, type: 'F32', shape, data: quantize('F32', data) };
    const heads = name.endsWith('q_proj.weight') ? spec.numHeads : name.endsWith('k_proj.weight') ? spec.numKvHeads : 0;
    const values = heads ? permuteQkRows(data, shape[0], shape[1], heads) : data;
    return { name: gguf, type, shape: [shape[1], shape[0]], data: quantize(type, values) };
  });
}

function manifestOf(id: string, format: CachedModel['format'], weights: string[], extra: Partial<CachedModel> = {}): CachedModel {
  return { id, name: id, origin: { kind: 'file', names: weights }, format, weights, bytes: 0, addedAt: 0, ...extra };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Logits [T, V] of the batch through the model (a LoRA adapter of zeros changes nothing). */
async function logitsOf(gpu: Gpu, model: Model): Promise<Float32Array> {
  const lora = new LoraAdapter(gpu, model.spec, { rank: 1, alpha: 1, targets: ['q_proj'] });
  const adamw = { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw, maxGradNorm: 0, recompute: false });
  try {
    return await trainer.logits(BATCH);
  } finally {
    trainer.destroy();
    lora.destroy();
  }
}

describe.runIf(inBrowser)('loadCachedModel', () => {
  const cache = inBrowser ? new ModelCache({ name: 'test-load-cached', database: 'test-load-cached' }) : (null as unknown as ModelCache);
  let gpu: Gpu;

  /** Stores a file in the cache, written in chunks. */
  async function put(key: string, bytes: Uint8Array, sha256?: string): Promise<string> {
    const writer = await cache.write(key, { size: bytes.length, sha256 });
    for (let i = 0; i < bytes.length; i += 50_000) await writer.write(bytes.subarray(i, i + 50_000));
    await writer.close();
    return key;
  }

  async function putTokenizer(prefix: string): Promise<Partial<CachedModel>> {
    return {
      tokenizer: await put(`${prefix}/tokenizer.json`, json(TOKENIZER.tokenizer)),
      tokenizerConfig: await put(`${prefix}/tokenizer_config.json`, json(TOKENIZER.config)),
    };
  }

  /**
   * Loads, compares spec, tokenizer and logits with the reference weights (given what was loaded), and checks
   * that nothing leaks.
   */
  async function expectLoads(
    manifest: CachedModel, spec: ModelSpec, referenceOf: (loaded: LoadedModel) => TensorLookup | Promise<TensorLookup>,
    options: Parameters<typeof loadCachedModel>[2] = {},
  ): Promise<LoadedModel> {
    const before = gpu.allocatedBytes;
    const reports: [number, number][] = [];
    const loaded = await loadCachedModel(gpu, manifest, { cache, onProgress: (done, total) => reports.push([done, total]), ...options });
    try {
      expect(loaded.spec).toEqual(spec);
      expect(loaded.tokenizer.encode('ab')).toEqual([4, 5]);
      const expectedModel = Model.fromTensors(gpu, spec, await referenceOf(loaded));
      const want = await logitsOf(gpu, expectedModel).finally(() => expectedModel.destroy());
      const got = await logitsOf(gpu, loaded.model);
      expect(maxRelError(got, want)).toBeLessThan(1e-5);
      const total = reports.at(-1)?.[1] ?? 0;
      expect(reports.at(-1)).toEqual([total, total]);
      return loaded;
    } finally {
      loaded.model.destroy();
      expect(gpu.allocatedBytes).toBe(before);
    }
  }

  /** Loading must reject with the message, leaving the GPU as it found it. */
  async function expectRejects(manifest: CachedModel, message: RegExp, options: Parameters<typeof loadCachedModel>[2] = {}): Promise<void> {
    const before = gpu.allocatedBytes;
    await expect(loadCachedModel(gpu, manifest, { cache, ...options })).rejects.toThrow(message);
    expect(gpu.allocatedBytes).toBe(before);
  }

  beforeAll(async () => {
    gpu = await testGpu();
    for (const record of await cache.list()) await cache.delete(record.key);
    await cache.removeIncomplete();
  });

  const small = randomWeights(SMALL, 1);
  const q8File = ggufFromHfModel({ spec: SMALL, type: 'Q8_0', tensors: (name) => small.get(name)?.data });

  it('GGUF Q8_0 with tokenizer.json: quantized linear layers, q/k rows un-permuted', async () => {
    const weights = await put('q8/model.gguf', q8File);
    const base = await readGgufBaseModel(q8File);
    const loaded = await expectLoads(manifestOf('q8', 'gguf', [weights], await putTokenizer('q8')), base.spec, () => tensorsOf(base.weights));
    expect(loaded.model.layers[0].q).toMatchObject({ kind: 'quant', type: 'Q8_0' });
  });

  it('GGUF Q4_K with the tokenizer from its metadata', async () => {
    const wide = randomWeights(WIDE, 2);
    const file = ggufFromHfModel({ spec: WIDE, type: 'Q4_K', tensors: (name) => wide.get(name)?.data, tokenizer: TOKENIZER });
    const base = await readGgufBaseModel(file);
    expect(base.gguf.header.tensorInfos.find((t) => t.name === 'blk.0.attn_k.weight')?.type).toBe('Q4_K');
    const manifest = manifestOf('q4k', 'gguf', [await put('q4k/model.gguf', file)]);
    const loaded = await expectLoads(manifest, base.spec, () => tensorsOf(base.weights));
    expect(loaded.model.layers[0].down).toMatchObject({ kind: 'quant', type: 'Q4_K' });
    // The context preview reads the same tokenizer from the header alone, without a GPU.
    const text = 'a b ab';
    expect((await loadCachedTokenizer(manifest, { cache })).encode(text)).toEqual(loaded.tokenizer.encode(text));
  });

  it('loadCachedTokenizer reads a cached tokenizer.json, and names a safetensors model without one', async () => {
    const withJson = manifestOf('tok', 'safetensors', ['tok/none.safetensors'], await putTokenizer('tok'));
    expect((await loadCachedTokenizer(withJson, { cache })).encode('ab')).toEqual([4, 5]);
    await expect(loadCachedTokenizer(manifestOf('tok2', 'safetensors', ['tok2/none.safetensors']), { cache })).rejects.toThrow(/has no tokenizer\.json/);
  });

  it('GGUF F16 with tied embeddings and Llama 3 RoPE scaling (rope_freqs.weight)', async () => {
    const spec: ModelSpec = {
      ...SMALL, tieWordEmbeddings: true,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 },
    };
    const tied = randomWeights(spec, 3);
    const file = ggufFromHfModel({ spec, type: 'F16', tensors: (name) => tied.get(name)?.data });
    const base = await readGgufBaseModel(file);
    expect(base.gguf.header.tensorInfos.some((t) => t.name === 'rope_freqs.weight')).toBe(true);
    expect(base.spec.ropeScaling?.type).toBe('llama3');
    const loaded = await expectLoads(manifestOf('f16', 'gguf', [await put('f16/model.gguf', file)], await putTokenizer('f16')), base.spec, () => tensorsOf(base.weights));
    expect(loaded.model.lmHead).toBe(loaded.model.embedding);
  });

  it('GGUF split in two parts', async () => {
    const tensors = llamaTensors(SMALL, small, 'Q8_0');
    const half = Math.ceil(tensors.length / 2);
    const split = (no: number) => ({ 'split.no': ggufValue.u16(no), 'split.count': ggufValue.u16(2), 'split.tensors.count': ggufValue.i32(tensors.length) });
    const part1 = writeGguf({ metadata: { ...llamaMetadata(SMALL), ...split(0) }, tensors: tensors.slice(0, half) });
    const part2 = writeGguf({ metadata: split(1), tensors: tensors.slice(half) });
    const keys = [await put('split/model-00001-of-00002.gguf', part1), await put('split/model-00002-of-00002.gguf', part2)];
    const base = await readGgufBaseModel(q8File); // the same tensors in one file
    await expectLoads(manifestOf('split', 'gguf', keys, await putTokenizer('split')), base.spec, () => tensorsOf(base.weights));
    // The parts in the wrong order are refused.
    await expectRejects(manifestOf('split-reversed', 'gguf', [...keys].reverse(), await putTokenizer('split')), /split part 2, but the manifest lists it as part 1/);
  });

  it('safetensors BF16 in two shards: linear layers stay BF16 for the quant matmul', async () => {
    const entries = [...small].sort(([a], [b]) => (a < b ? -1 : 1));
    const middle = Math.floor(entries.length / 2);
    const shards = [
      await put('bf16/model-00001-of-00002.safetensors', halfSafetensors(entries.slice(0, middle), 'BF16')),
      await put('bf16/model-00002-of-00002.safetensors', halfSafetensors(entries.slice(middle), 'BF16')),
    ];
    const config = await put('bf16/config.json', json(hfConfig(SMALL)));
    const manifest = manifestOf('bf16', 'safetensors', shards, { config, ...(await putTokenizer('bf16')) });
    const loaded = await expectLoads(manifest, SMALL, () => lookup(rounded(small, 'BF16')));
    expect(loaded.model.layers[1].gate).toMatchObject({ kind: 'quant', type: 'BF16' });
  });

  it("safetensors F16 quantized to Q8_0 on load: the CPU quantizer's values", async () => {
    const file = halfSafetensors([...small], 'F16');
    const config = await put('f16q8/config.json', json(hfConfig(SMALL)));
    const manifest = manifestOf('f16q8', 'safetensors', [await put('f16q8/model.safetensors', file)], { config, ...(await putTokenizer('f16q8')) });
    const values = rounded(small, 'F16');
    // The CPU's quantization, but where x / d sits on a rounding boundary: there the GPU may round the other way.
    const reference = async (loaded: LoadedModel): Promise<TensorLookup> => {
      const weights: Weights = new Map(values);
      let boundaryCases = 0;
      for (const layer of loaded.model.layers) {
        for (const w of [layer.q, layer.k, layer.v, layer.o, layer.gate, layer.up, layer.down]) {
          expect(w).toMatchObject({ kind: 'quant', type: 'Q8_0' });
          const name = loaded.model.names.get(w.buffer) as string;
          const x = (values.get(name) as { data: Float32Array }).data;
          const cpu = quantize('Q8_0', x);
          const gpuBytes = new Uint8Array(await gpu.read(w.buffer, cpu.length));
          for (let i = 0; i < cpu.length; i++) {
            if (gpuBytes[i] === cpu[i]) continue;
            const [block, at] = [Math.floor(i / 34), i % 34];
            expect(at, `${name}: scale of block ${block}`).toBeGreaterThanOrEqual(2);
            // Both quantizers scale by 1 / (amax / 127) in f32 (the f16 scale is only what they store).
            const amax = Math.max(...x.subarray(32 * block, 32 * block + 32).map(Math.abs));
            const scaled = x[32 * block + at - 2] * (127 / amax);
            expect(Math.abs(((gpuBytes[i] << 24) >> 24) - ((cpu[i] << 24) >> 24))).toBe(1);
            expect(Math.abs((Math.abs(scaled) % 1) - 0.5), `${name}[${32 * block + at - 2}]`).toBeLessThan(1e-3);
            boundaryCases++;
          }
          weights.set(name, { shape: [w.outFeatures, w.inFeatures], data: dequantize('Q8_0', gpuBytes, x.length) });
        }
      }
      expect(boundaryCases).toBeLessThan(20);
      return lookup(weights);
    };
    await expectLoads(manifest, SMALL, reference, { quantize: 'Q8_0' });
  });

  it('Model.fromGpuTensors keeps a quantized embedding and LM head in their GGML blocks, in row parts', async () => {
    const base = await readGgufBaseModel(q8File);
    const before = gpu.allocatedBytes;
    const raw = new Map<string, GpuTensor>();
    for (const name of baseWeightShapes(SMALL).keys()) {
      const { type, shape, bytes } = base.gguf.tensorBytes(name);
      raw.set(name, { type, shape, buffer: gpu.upload(name, bytes) });
    }
    // Parts of at most 20 rows of 64 Q8_0 values (68 bytes), of the 64-token vocabulary.
    const model = Model.fromGpuTensors(gpu, SMALL, (name) => raw.get(name), { maxTablePartBytes: 20 * 68 });
    const reference = Model.fromTensors(gpu, SMALL, tensorsOf(base.weights));
    try {
      for (const table of [model.embedding, model.lmHead]) {
        expect(table.type).toBe('Q8_0');
        expect(table.parts.length).toBeGreaterThan(3);
        let next = 0;
        for (const part of table.parts) {
          expect(part.firstRow).toBe(next);
          next += part.rows;
        }
        expect(next).toBe(SMALL.vocabSize);
      }
      expect(maxRelError(await logitsOf(gpu, model), await logitsOf(gpu, reference))).toBeLessThan(1e-5);
    } finally {
      model.destroy();
      reference.destroy();
    }
    expect(gpu.allocatedBytes).toBe(before); // the raw embedding and head were freed once copied into parts
  });

  describe('bad input fails naming the problem and frees every buffer', () => {
    it('a file that is not GGUF (wrong magic)', async () => {
      const bad = q8File.slice();
      bad.set([0x47, 0x47, 0x55, 0x58]); // "GGUX"
      await expectRejects(manifestOf('magic', 'gguf', [await put('bad/magic.gguf', bad)]), /bad\/magic\.gguf: GGUF: not a GGUF file \(it starts with "GGUX"/);
    });

    it('a truncated GGUF', async () => {
      const key = await put('bad/truncated.gguf', q8File.subarray(0, q8File.length - 1000));
      await expectRejects(manifestOf('truncated', 'gguf', [key]), /bad\/truncated\.gguf: GGUF: truncated file: tensor output\.weight ends at byte/);
    });

    it('a tensor type we do not read (Q5_0)', async () => {
      const bad = q8File.slice();
      const name = new TextEncoder().encode('blk.0.attn_v.weight');
      const at = bad.findIndex((_, i) => name.every((b, j) => bad[i + j] === b));
      // After the name: n_dims u32 = 2, ne u64 x 2, then the type id u32.
      new DataView(bad.buffer).setUint32(at + name.length + 4 + 16, 6, true);
      await expectRejects(manifestOf('q5', 'gguf', [await put('bad/q5_0.gguf', bad)]), /bad\/q5_0\.gguf: GGUF: tensor blk\.0\.attn_v\.weight is Q5_0, which is not supported/);
    });

    it("architecture 'gpt2'", async () => {
      const file = writeGguf({ metadata: llamaMetadata(SMALL, 'gpt2'), tensors: llamaTensors(SMALL, small, 'Q8_0') });
      await expectRejects(manifestOf('gpt2', 'gguf', [await put('bad/gpt2.gguf', file)]), /bad\/gpt2\.gguf: GGUF: unsupported architecture "gpt2"/);
    });

    it('config.json without hidden_size', async () => {
      const config = hfConfig(SMALL);
      delete config.hidden_size;
      const manifest = manifestOf('no-hidden', 'safetensors', [await put('bad/no-hidden.safetensors', writeSafetensors(Object.fromEntries(small)))], {
        config: await put('bad/no-hidden-config.json', json(config)),
        ...(await putTokenizer('bad')),
      });
      await expectRejects(manifest, /bad\/no-hidden-config\.json: config\.json: missing required field "hidden_size"/);
    });

    it('a safetensors tensor of the wrong shape', async () => {
      const tensors = Object.fromEntries(small);
      const up = tensors['model.layers.1.mlp.up_proj.weight'];
      tensors['model.layers.1.mlp.up_proj.weight'] = { shape: [up.shape[1], up.shape[0]], data: up.data };
      const manifest = manifestOf('shape', 'safetensors', [await put('bad/shape.safetensors', writeSafetensors(tensors))], {
        config: await put('bad/shape-config.json', json(hfConfig(SMALL))),
        ...(await putTokenizer('bad')),
      });
      await expectRejects(manifest, /bad\/shape\.safetensors: tensor model\.layers\.1\.mlp\.up_proj\.weight has shape \[64,96\], but config\.json implies \[96,64\]/);
    });

    it('a tensor of the wrong shape in the second shard: the error names that shard', async () => {
      const entries = [...small].map(([name, t]) => [name, name === 'model.norm.weight' ? { shape: [t.shape[0] + 1], data: new Float32Array(t.data.length + 1) } : t] as const);
      const half = Math.ceil(entries.length / 2);
      const first = await put('bad/shard-1.safetensors', writeSafetensors(Object.fromEntries(entries.filter(([name]) => name !== 'model.norm.weight').slice(0, half))));
      const second = await put('bad/shard-2.safetensors', writeSafetensors(Object.fromEntries([...entries.filter(([name]) => name !== 'model.norm.weight').slice(half), ...entries.filter(([name]) => name === 'model.norm.weight')])));
      const manifest = manifestOf('shards', 'safetensors', [first, second], {
        config: await put('bad/shards-config.json', json(hfConfig(SMALL))),
        ...(await putTokenizer('bad')),
      });
      const error = await loadCachedModel(gpu, manifest, { cache }).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as ModelLoadError).file).toBe(second);
      expect((error as Error).message).toMatch(/bad\/shard-2\.safetensors: tensor model\.norm\.weight has shape/);
    });

    it('a tensor missing from the shards', async () => {
      const tensors = Object.fromEntries(small);
      delete tensors['model.norm.weight'];
      const manifest = manifestOf('missing', 'safetensors', [await put('bad/missing.safetensors', writeSafetensors(tensors))], {
        config: await put('bad/missing-config.json', json(hfConfig(SMALL))),
        ...(await putTokenizer('bad')),
      });
      await expectRejects(manifest, /bad\/missing\.safetensors: missing tensors model\.norm\.weight/);
    });

    const large = randomWeights(LARGE, 4);
    const largeFile = ggufFromHfModel({ spec: LARGE, type: 'F32', tensors: (name) => large.get(name)?.data, tokenizer: TOKENIZER });

    it('a cached copy found damaged after its tensors were uploaded', async () => {
      expect(largeFile.length).toBeGreaterThan(4_000_000);
      // A record from before hashes were checked at entry, whose sha256 the bytes do not match: it is hashed
      // on its first load, and found damaged only once its tensors are on the GPU.
      const key = await put('bad/damaged.gguf', largeFile);
      const files = createStore('test-load-cached', 'files');
      const record = await get<CachedFile>(key, files);
      await set(key, { ...record, sha256: '0'.repeat(64), verified: undefined }, files);
      await expectRejects(manifestOf('damaged', 'gguf', [key]), /bad\/damaged\.gguf: the cached copy of "bad\/damaged\.gguf" is damaged \(sha256 mismatch\)/);
    });

    it('abort mid-load', async () => {
      const key = await put('large/model.gguf', largeFile);
      const controller = new AbortController();
      const reports: number[] = [];
      const onProgress = (done: number) => {
        reports.push(done);
        controller.abort();
      };
      const manifest = manifestOf('large', 'gguf', [key]);
      await expectRejects(manifest, /loading large was cancelled/, { signal: controller.signal, onProgress });
      expect(reports.length).toBe(1);
      expect(reports[0]).toBeLessThan(largeFile.length);
      // The same file loads when nobody cancels.
      const loaded = await loadCachedModel(gpu, manifest, { cache });
      expect(loaded.spec.hiddenSize).toBe(LARGE.hiddenSize);
      loaded.model.destroy();
    });
  });
});
