// Model shapes for benchmarks and planning: the architectures of real checkpoints, without their weights.
import { EMBEDDED_MODEL_ID, EMBEDDED_SPEC } from '../model/embedded';
import type { ModelSpec } from '../engine/spec';

const llama = (s: Partial<ModelSpec> & Pick<ModelSpec, 'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads'>): ModelSpec => ({
  arch: 'llama', headDim: s.hiddenSize / s.numHeads, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null,
  slidingWindow: null, tieWordEmbeddings: false, maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenId: 2, ...s,
});

export const MODEL_SHAPES: Record<string, ModelSpec> = {
  /** The embedded default model. */
  [EMBEDDED_MODEL_ID]: EMBEDDED_SPEC,
  /** Small enough for SwiftShader on a CPU. */
  tiny: llama({ vocabSize: 512, hiddenSize: 64, intermediateSize: 160, numLayers: 2, numHeads: 4, numKvHeads: 2 }),
  'tinyllama-1.1b': llama({ vocabSize: 32000, hiddenSize: 2048, intermediateSize: 5632, numLayers: 22, numHeads: 32, numKvHeads: 4, maxPositionEmbeddings: 2048 }),
  'llama-3.2-1b': llama({
    vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, headDim: 64,
    ropeTheta: 500000, tieWordEmbeddings: true, maxPositionEmbeddings: 131072, bosTokenId: 128000, eosTokenId: 128001,
    ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  }),
  'llama-3-8b': llama({
    vocabSize: 128256, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8,
    ropeTheta: 500000, maxPositionEmbeddings: 8192, bosTokenId: 128000, eosTokenId: 128001,
  }),
  'mistral-7b': llama({
    arch: 'mistral', vocabSize: 32768, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8,
    ropeTheta: 1000000, maxPositionEmbeddings: 32768,
  }),
};
