// Tiny decoders with a LoRA adapter, and our engine's logits and greedy tokens on them: what the tests of the ONNX
// export and of ONNX generation (Node and Chromium) share.
import { Activations } from '../engine/activations';
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { forward } from '../engine/model';
import { lmHeadLogits } from '../engine/ops/cross_entropy';
import type { ModelSpec } from '../engine/spec';
import { Model } from '../engine/weights';
import type { Gpu } from '../gpu/gpu';
import { testGpu } from '../gpu/gpu.testing';
import { randomCase } from './make-case';
import { mulberry32 } from '../util/random';
import type { HostAdapter } from '../export/adapter';
import type { BaseSource } from '../export/base';

const TINY = {
  vocabSize: 96, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 64, bosTokenId: 1, eosTokenId: 2,
} as const;

/** Llama with GQA, Llama 3 RoPE scaling and a separate LM head; Mistral with a 4-token window and tied embeddings. */
export const TINY_SPECS: Record<'llama' | 'mistral', ModelSpec> = {
  llama: {
    ...TINY, arch: 'llama', slidingWindow: null, tieWordEmbeddings: false,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
  },
  mistral: { ...TINY, arch: 'mistral', slidingWindow: 4, tieWordEmbeddings: true, ropeScaling: null, ropeTheta: 1e6 },
};

export interface TinyModel {
  spec: ModelSpec;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  lora: Map<string, { shape: number[]; data: Float32Array }>;
  base: BaseSource;
  adapter: HostAdapter;
}

/** Random base weights and a LoRA adapter of rank 2 on every linear layer, B non-zero. */
export function tinyModel(spec: ModelSpec, seed: number): TinyModel {
  const c = randomCase({ spec, batch: 1, seqLen: 8, answers: 1, pad: 0, rank: 2, alpha: 4, seed });
  const base: BaseSource = {
    spec,
    async tensor(name) {
      const t = c.weights.get(name);
      if (!t) throw new Error(`tiny model: no ${name}`);
      return t.data;
    },
  };
  const adapter: HostAdapter = { spec, config: c.input.lora.config, tensors: new Map([...c.lora].map(([k, t]) => [k, t.data])) };
  return { spec, weights: c.weights, lora: c.lora, base, adapter };
}

/** Tokens in [3, V): no BOS/EOS/padding ids. */
export function randomTokens(spec: ModelSpec, n: number, seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(next() * (spec.vocabSize - 3)));
}

async function withEngine<R>(m: TinyModel, run: (model: Model, lora: LoraAdapter) => Promise<R>): Promise<R> {
  const gpu = await testGpu();
  const model = Model.fromTensors(gpu, m.spec, (name) => m.weights.get(name));
  const lora = new LoraAdapter(gpu, m.spec, m.adapter.config);
  try {
    lora.load((key) => m.lora.get(key));
    return await run(model, lora);
  } finally {
    lora.destroy();
    model.destroy();
  }
}

/** Logits [T, V] of one sequence through the engine, with the adapter's branch when `lora` is given. */
export async function modelLogits(gpu: Gpu, model: Model, lora: LoraAdapter | null, tokens: number[]): Promise<Float32Array> {
  const { spec } = model;
  const T = tokens.length;
  const acts = new Activations(gpu, spec, 1, T, lora?.config.rank ?? 0, lora?.config.targets ?? [], { recompute: false }, false);
  const inputs = { ids: gpu.upload('input_ids', Uint32Array.from(tokens)), mask: gpu.upload('attention_mask', new Uint32Array(T).fill(1)) };
  const logits = gpu.buffer('logits', T * spec.vocabSize * 4);
  try {
    await gpu.submit((encoder) => {
      forward(encoder, model, lora, acts, inputs);
      lmHeadLogits(gpu, encoder, { hidden: acts.hidden, weight: model.lmHead, rows: T, dim: spec.hiddenSize, vocab: spec.vocabSize, logits });
    });
    return await gpu.readF32(logits);
  } finally {
    gpu.destroy(inputs.ids, inputs.mask, logits);
    acts.destroy();
  }
}

/** Our engine's logits [T, V] of one sequence, the adapter applied as a branch beside the frozen weights. */
export function engineLogits(m: TinyModel, tokens: number[]): Promise<Float32Array> {
  return withEngine(m, (model, lora) => modelLogits(model.gpu, model, lora, tokens));
}

/** Our engine's greedy continuation (src/engine/generate.ts, KV cache), stopping after EOS like transformers.js. */
export function engineGreedy(m: TinyModel, prompt: number[], maxNewTokens: number): Promise<number[]> {
  return withEngine(m, async (model, lora) => {
    const stopTokens = m.spec.eosTokenId === null ? [] : [m.spec.eosTokenId];
    const result = await new Generator(model, lora).generate([prompt], { maxNewTokens, stopTokens });
    return result.tokens[0];
  });
}

/** The export of one tiny decoder committed under src/testdata, for tests that may not import the exporter. */
export const ONNX_FIXTURE = {
  folder: 'onnx/tiny-llama',
  arch: 'llama',
  seed: 11,
  files: ['config.json', 'generation_config.json', 'onnx/model.onnx'],
} as const;
