// Our GGUF LoRA adapter and merged GGUF model against llama.cpp (node-llama-cpp's prebuilt CPU binary): a tiny
// random Llama with a random adapter (B non-zero) on all seven projections; llama.cpp's logits of every position,
// with our adapter file on the base GGUF or with the merged file alone, must match our engine's with the adapter.
// Node only (native addon).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize, quantize } from '../engine/ggml';
import type { ModelSpec } from '../engine/spec';
import { Model } from '../engine/weights';
import { testGpu } from '../gpu/gpu.testing';
import { ggufFromHfModel } from '../model/gguf/convert';
import { LLAMA_CPP_PREBUILT, compare, llamaCppLogits, loadLlamaCpp, sentencePieceTokenizer } from '../model/gguf/llama-cpp.testing';
import { readGguf } from '../model/gguf/reader';
import { unpermuteQkRows } from '../model/gguf/spec';
import { writeGguf } from '../model/gguf/writer';
import { readGgufBaseModel } from '../reference/case';
import { mulberry32 } from '../util/random';
import { engineLogits, gpuAdapter, randomExportCase } from './export.testing';
import { ggufLoraBytes, ggufLoraMetadata, ggufLoraTensors } from './gguf-lora';
import { exportMergedGguf } from './merged';
import { memoryFolder } from './sink';

// The shapes of src/model/gguf/llama-cpp.node.gpu.test.ts: GQA, heads of 64, every row whole K-quant blocks.
const SPEC: ModelSpec = {
  arch: 'llama', vocabSize: 320, hiddenSize: 256, intermediateSize: 512, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 64,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, slidingWindow: null, tieWordEmbeddings: false,
  maxPositionEmbeddings: 128, bosTokenId: 1, eosTokenId: 2,
};
const SEQ_LEN = 24;
/**
 * Max |ours - llama.cpp| / max |llama.cpp| over all positions; measured errors in brackets. llama.cpp rounds the
 * activations entering F16 matmuls to f16 and Q8_0 ones to Q8_0 blocks (see llama-cpp.node.gpu.test.ts, whose
 * F16 and Q8_0 tolerances these are); its F32 LoRA branch adds no rounding. A merged F16 file also rounds
 * W + scaling B A to f16, while the reference (our F32 base with the adapter) does not: wider tolerance.
 */
const TOLERANCE = {
  F32: 1e-5, // [1.2e-6 with the LoRA file, 1.2e-6 merged]: f32 summation order only
  F16: 1.1e-3, // [6.4e-4 with the LoRA file in F32, 6.6e-4 in F16]
  Q8_0: 3e-2, // [1.7e-2]
  mergedF16: 2e-3, // [1.1e-3; 1.4e-3 on another token draw]
};
/**
 * LoRA tensors of 0.06 N(0,1): with scaling 2 and rank 4, B A moves each weight by ~25% of its size. At
 * randomCase's 0.2 N(0,1) the adapter would outweigh W threefold, and this tiny random model then amplifies
 * every rounding (llama.cpp and we differ by 2e-5 even in F32).
 */
const LORA_SCALE = 0.3;

const prebuilt = LLAMA_CPP_PREBUILT;
const llama = prebuilt ? await loadLlamaCpp() : 'no linux-x64';

/** The adapter's file with lora_b of attn_q/attn_k left in HF row order: what a converter that forgot the permutation writes. */
function unpermutedLoraFile(adapter: Parameters<typeof ggufLoraBytes>[0]): Uint8Array {
  const r = adapter.config.rank;
  const tensors = ggufLoraTensors(adapter).map((t) => {
    const q = /attn_q\.weight\.lora_b$/.test(t.name);
    if (!q && !/attn_k\.weight\.lora_b$/.test(t.name)) return t;
    const out = t.shape[1];
    const values = unpermuteQkRows(dequantize('F32', t.data, r * out), out, r, q ? SPEC.numHeads : SPEC.numKvHeads);
    return { ...t, data: quantize('F32', values) };
  });
  return writeGguf({ metadata: ggufLoraMetadata(adapter), tensors });
}

describe.skipIf(!prebuilt)('GGUF LoRA and merged GGUF against llama.cpp', () => {
  const tokenizer = sentencePieceTokenizer();
  const { base, adapter, weights } = randomExportCase(SPEC, { rank: 4, alpha: 8, loraScale: LORA_SCALE }, 20240612);
  base.tokenizer = tokenizer;
  const realTokens = Object.keys((tokenizer.tokenizer as { model: { vocab: object } }).model.vocab).length;
  const next = mulberry32(7);
  const tokens = [SPEC.bosTokenId!, ...Array.from({ length: SEQ_LEN - 1 }, () => 3 + Math.floor(next() * (realTokens - 3)))];
  const summary: Record<string, Record<string, number | string>> = {};
  let dir = '';
  /** Our logits with the adapter on the F32 base: the exact ones. */
  let exact: Float32Array | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'manyicl-gguf-lora-'));
  });
  afterAll(async () => {
    console.log('llama.cpp (CPU) vs ours (WebGPU) with the adapter, logits of every position');
    console.table(summary);
    await rm(dir, { recursive: true, force: true });
    if (typeof llama !== 'string') await llama.dispose();
  });

  const save = async (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  };
  const llamaCpp = () => {
    if (typeof llama === 'string') throw new Error(`node-llama-cpp did not load: ${llama}`);
    return llama;
  };
  /** Our engine on a base GGUF file (linear layers quantized on the GPU, as llama.cpp holds them) with the adapter. */
  async function ours(baseFile: Uint8Array): Promise<Float32Array> {
    const gpu = await testGpu();
    const { weights: decoded, gguf } = await readGgufBaseModel(baseFile);
    const model = Model.fromEncoded(gpu, SPEC, (name) => (gguf.has(name) ? { ...gguf.tensorBytes(name), dequantize: () => decoded.tensor(name) } : undefined));
    const lora = gpuAdapter(gpu, adapter);
    try {
      return await engineLogits(gpu, model, lora, tokens);
    } finally {
      lora.destroy();
      model.destroy();
    }
  }
  const record = (what: string, ours: Float32Array, theirs: Float32Array, tolerance: number | string) => {
    const c = compare(ours, theirs, SEQ_LEN, SPEC.vocabSize);
    summary[what] = {
      'max abs err': Number(c.maxAbsError.toPrecision(3)), 'rel err': Number(c.relError.toPrecision(3)), tolerance,
      'argmax agree': `${c.argmaxAgree}/${SEQ_LEN}`,
    };
    return c.relError;
  };

  for (const type of ['F32', 'F16', 'Q8_0'] as const) {
    const checksPermutation = type !== 'Q8_0';
    it(`${type} base + our GGUF LoRA: llama.cpp's logits match ours with the adapter${checksPermutation ? '; unpermuted q/k B, or no adapter, do not' : ''}`, async () => {
      const baseFile = ggufFromHfModel({ spec: SPEC, type, tensors: (name) => weights.get(name), tokenizer, name: 'gguf-lora-check' });
      const basePath = await save(`base-${type}.gguf`, baseFile);
      const loraFile = ggufLoraBytes(adapter, { name: 'gguf-lora-check-adapter' });
      const loraPath = await save('lora.gguf', loraFile);
      expect((await readGguf(loraFile)).header.tensorInfos).toHaveLength(SPEC.numLayers * 7 * 2);

      const expected = await ours(baseFile);
      if (type === 'F32') exact = expected;
      const run = async (loras?: string[]) =>
        (await llamaCppLogits(llamaCpp(), basePath, tokens, { vocabSize: SPEC.vocabSize, ...(loras ? { loras } : {}) })).logits;
      const tolerance = TOLERANCE[type];
      const far = `> ${(10 * tolerance).toPrecision(2)}`;
      // Every run is recorded before any assertion, so that the log shows all of them.
      const withLora = record(`${type} base + LoRA`, expected, await run([loraPath]), tolerance);
      if (!checksPermutation) {
        expect(withLora).toBeLessThanOrEqual(tolerance);
        return;
      }
      const f16Lora = await save('lora-f16.gguf', ggufLoraBytes(adapter, { type: 'F16' }));
      const withF16Lora = record(`${type} base + LoRA in F16`, expected, await run([f16Lora]), type === 'F16' ? tolerance : '-');
      const unpermuted = await save('lora-unpermuted.gguf', unpermutedLoraFile(adapter));
      const withUnpermuted = record(`${type} base + LoRA, q/k B unpermuted`, expected, await run([unpermuted]), far);
      const withNone = record(`${type} base, no LoRA`, expected, await run(), far);
      expect(withLora).toBeLessThanOrEqual(tolerance);
      if (type === 'F16') expect(withF16Lora).toBeLessThanOrEqual(tolerance);
      expect(withUnpermuted).toBeGreaterThan(10 * tolerance);
      expect(withNone).toBeGreaterThan(10 * tolerance);
    });
  }

  for (const type of ['F32', 'F16'] as const) {
    it(`merged ${type} GGUF: llama.cpp loads it alone and its logits match ours with the adapter`, async () => {
      if (!exact) throw new Error('the F32 LoRA comparison did not run');
      const folder = memoryFolder();
      const progress: number[] = [];
      await exportMergedGguf(base, adapter, await folder.file('merged.gguf'), { type, onProgress: (done) => progress.push(done) });
      const merged = folder.files.get('merged.gguf')!;
      const parsed = await readGguf(merged);
      expect(progress).toEqual(parsed.header.tensorInfos.map((_, i) => i + 1));
      expect(parsed.header.metadata['general.name']).toBe('test/tiny');
      expect(parsed.info('blk.0.attn_q.weight').type).toBe(type);
      const theirs = await llamaCppLogits(llamaCpp(), await save(`merged-${type}.gguf`, merged), tokens, { vocabSize: SPEC.vocabSize });
      const tolerance = type === 'F32' ? TOLERANCE.F32 : TOLERANCE.mergedF16;
      expect(record(`merged ${type} GGUF`, exact, theirs.logits, tolerance)).toBeLessThanOrEqual(tolerance);
    });
  }
});
