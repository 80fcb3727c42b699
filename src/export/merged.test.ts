import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f32ToBf16Bits, roundToF16 } from '../engine/ggml';
import { peftKey } from '../engine/peft';
import { type ModelSpec, WEIGHT_NAMES, baseWeights } from '../engine/spec';
import { specFromHfConfig } from '../model/config';
import { readSafetensors } from '../model/safetensors';
import { adapterScaling } from './adapter';
import { randomExportCase } from './export.testing';
import { ggufFromHfModel } from '../model/gguf/convert';
import { type MergedDtype, MERGED_GGUF_TYPES, exportMergedGguf, exportMergedSafetensors, shardWeights } from './merged';
import { memoryFolder } from './sink';

const SPEC: ModelSpec = {
  arch: 'mistral',
  vocabSize: 48,
  hiddenSize: 32,
  intermediateSize: 48,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  slidingWindow: 16,
  tieWordEmbeddings: true,
  maxPositionEmbeddings: 64,
  bosTokenId: 1,
  eosTokenId: 2,
};

const NAMES = baseWeights(SPEC).map((w) => w.name);
const decoder = new TextDecoder();

async function exported(dtype: MergedDtype, shardBytes?: number, useRslora = false) {
  const { base, adapter, weights } = randomExportCase(SPEC, { rank: 3, alpha: 5, useRslora }, 11);
  const folder = memoryFolder();
  const progress: [number, number][] = [];
  const result = await exportMergedSafetensors(base, adapter, folder, {
    dtype, ...(shardBytes ? { shardBytes } : {}), onProgress: (done, total) => progress.push([done, total]),
  });
  return { folder, result, progress, adapter, weights };
}

describe('merged safetensors export', () => {
  it('merges W + scaling B A (rsLoRA) into every adapted projection, copies the rest, and leaves out the tied LM head', async () => {
    const { folder, result, progress, adapter, weights } = await exported('F32', undefined, true);
    expect(result.files).toEqual(['model.safetensors']);
    expect([...folder.files.keys()].sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const file = readSafetensors(folder.files.get('model.safetensors')!);
    expect([...file.header.tensors.keys()].sort()).toEqual([...NAMES].sort());
    expect(file.has(WEIGHT_NAMES.lmHead)).toBe(false);
    expect(file.header.metadata).toEqual({ format: 'pt' });
    expect(progress.at(-1)).toEqual([NAMES.length, NAMES.length]);
    expect(progress.length).toBe(NAMES.length);

    const scaling = adapterScaling(adapter);
    expect(scaling).toBeCloseTo(5 / Math.sqrt(3), 12);
    const r = 3;
    for (const w of baseWeights(SPEC)) {
      const got = file.tensor(w.name);
      const base = weights.get(w.name)!;
      if (!w.target) {
        expect(got, w.name).toEqual(base);
        continue;
      }
      const layer = Number(/layers\.(\d+)\./.exec(w.name)![1]);
      const a = adapter.tensors.get(peftKey(layer, w.target, 'A'))!;
      const b = adapter.tensors.get(peftKey(layer, w.target, 'B'))!;
      const [out, inF] = w.shape;
      let maxErr = 0;
      let maxDelta = 0;
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inF; i++) {
          let ba = 0;
          for (let k = 0; k < r; k++) ba += b[o * r + k] * a[k * inF + i];
          const expected = base[o * inF + i] + scaling * ba;
          maxErr = Math.max(maxErr, Math.abs(got[o * inF + i] - expected));
          maxDelta = Math.max(maxDelta, Math.abs(scaling * ba));
        }
      }
      expect(maxErr, w.name).toBeLessThan(1e-6);
      expect(maxDelta, w.name).toBeGreaterThan(0.05); // the adapter does change it
    }

    const config = JSON.parse(decoder.decode(folder.files.get('config.json')));
    expect(config.torch_dtype).toBe('float32');
    expect(specFromHfConfig(config)).toEqual(SPEC);
    expect(JSON.parse(decoder.decode(folder.files.get('generation_config.json')))).toEqual({ bos_token_id: 1, eos_token_id: 2, do_sample: false });
  });

  it('F16 and BF16 files hold the F32 values rounded to nearest even, and say so in config.json', async () => {
    const f32 = readSafetensors((await exported('F32')).folder.files.get('model.safetensors')!);
    const round = { F16: roundToF16, BF16: (v: number) => bf16BitsToF32(f32ToBf16Bits(v)) };
    for (const dtype of ['F16', 'BF16'] as const) {
      const { folder } = await exported(dtype);
      const file = readSafetensors(folder.files.get('model.safetensors')!);
      for (const name of NAMES) {
        expect(file.info(name).dtype).toBe(dtype);
        const expected = Float32Array.from(f32.tensor(name), round[dtype]);
        expect(file.tensor(name), `${dtype} ${name}`).toEqual(expected);
      }
      const config = JSON.parse(decoder.decode(folder.files.get('config.json')));
      expect([config.torch_dtype, config.dtype]).toEqual([dtype === 'F16' ? 'float16' : 'bfloat16', dtype === 'F16' ? 'float16' : 'bfloat16']);
      expect(specFromHfConfig(config)).toEqual(SPEC);
    }
  });

  it('splits into shards with an index whose weight_map names every tensor once, in the shard that holds it', async () => {
    const embeddingBytes = SPEC.vocabSize * SPEC.hiddenSize * 2;
    const { folder, result } = await exported('F16', embeddingBytes / 2);
    const single = readSafetensors((await exported('F16')).folder.files.get('model.safetensors')!);
    const n = result.files.length;
    expect(n).toBeGreaterThan(2);
    expect(result.files[0]).toBe(`model-00001-of-${String(n).padStart(5, '0')}.safetensors`);
    expect(folder.files.has('model.safetensors')).toBe(false);

    const index = JSON.parse(decoder.decode(folder.files.get('model.safetensors.index.json')));
    expect(Object.keys(index.weight_map).sort()).toEqual([...NAMES].sort());
    let dataBytes = 0;
    const seen: string[] = [];
    for (const name of result.files) {
      const file = readSafetensors(folder.files.get(name)!);
      for (const [tensor, info] of file.header.tensors) {
        expect(index.weight_map[tensor], tensor).toBe(name);
        expect(file.tensor(tensor), tensor).toEqual(single.tensor(tensor));
        dataBytes += info.end - info.begin;
        seen.push(tensor);
      }
    }
    expect(seen.sort()).toEqual([...NAMES].sort());
    expect(index.metadata.total_size).toBe(dataBytes);
    expect(result.totalSize).toBe(dataBytes);
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(result.files));
  });

  it("writes the base's tokenizer files beside the weights", async () => {
    const { base } = randomExportCase(SPEC, { rank: 2, alpha: 4 }, 14);
    base.tokenizer = { tokenizer: { model: { type: 'BPE' } }, config: { bos_token: '<s>' } };
    const folder = memoryFolder();
    await exportMergedSafetensors(base, null, folder, { dtype: 'BF16' });
    expect(JSON.parse(decoder.decode(folder.files.get('tokenizer.json')))).toEqual(base.tokenizer.tokenizer);
    expect(JSON.parse(decoder.decode(folder.files.get('tokenizer_config.json')))).toEqual(base.tokenizer.config);
  });

  it('shards as huggingface_hub does: a new shard when the next tensor would overflow, an oversized tensor alone', () => {
    const w = (bytes: number) => ({ bytes });
    expect(shardWeights([w(4), w(4), w(3), w(10), w(1)], 8).map((s) => s.map((x) => x.bytes))).toEqual([[4, 4], [3], [10], [1]]);
    expect(shardWeights([w(4), w(4)], 100)).toHaveLength(1);
  });
});

describe('merged GGUF export', () => {
  // Rows of 256 values, so that Q4_K and Q6_K are used rather than a fallback; Llama 3 scaling adds rope_freqs.
  const spec: ModelSpec = {
    ...SPEC, arch: 'llama', slidingWindow: null, hiddenSize: 256, intermediateSize: 256, numHeads: 4, numKvHeads: 2, headDim: 64, numLayers: 1,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 },
  };
  const tokenizer = {
    tokenizer: { model: { type: 'BPE', vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, a: 3 }, merges: [] }, added_tokens: [] },
    config: { bos_token: '<s>', eos_token: '</s>' },
  };

  for (const type of MERGED_GGUF_TYPES) {
    it(`${type}: streams the bytes ggufFromHfModel writes for the merged weights`, async () => {
      const { base, adapter } = randomExportCase(spec, { rank: 2, alpha: 4 }, 12);
      base.tokenizer = tokenizer;
      const folder = memoryFolder();
      await exportMergedSafetensors(base, adapter, folder, { dtype: 'F32' });
      const merged = readSafetensors(folder.files.get('model.safetensors')!);
      const expected = ggufFromHfModel({ spec, type, tensors: (name) => (merged.has(name) ? merged.tensor(name) : undefined), tokenizer, name: 'test/tiny' });

      const out = memoryFolder();
      const done: number[] = [];
      await exportMergedGguf(base, adapter, await out.file('m.gguf'), { type, onProgress: (n) => done.push(n) });
      const got = out.files.get('m.gguf')!;
      expect(got.length).toBe(expected.length);
      expect(got.findIndex((byte, i) => byte !== expected[i]), 'first differing byte').toBe(-1);
      expect(done.length).toBe(baseWeights(spec).length + 1);
    });
  }

  it('refuses a type it does not write, and an adapter made for another model', async () => {
    const { base, adapter } = randomExportCase(SPEC, { rank: 2, alpha: 4 }, 13);
    const sink = await memoryFolder().file('x');
    await expect(exportMergedGguf(base, adapter, sink, { type: 'Q5_K' as 'Q4_K' })).rejects.toThrow(/must be one of .*Q6_K, got Q5_K/);
    await expect(exportMergedSafetensors(base, adapter, memoryFolder(), { dtype: 'F64' as 'F32' })).rejects.toThrow(/dtype must be one of/);
    const other = { ...adapter, spec: { ...SPEC, numKvHeads: 4 } };
    await expect(exportMergedGguf(base, other, sink, { type: 'F16' })).rejects.toThrow(/numKvHeads 4, the base model has 2/);
  });
});
