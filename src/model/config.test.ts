import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../engine/spec';
import { readFixtureJson } from '../testdata/cases.testing';
import { specFromHfConfig } from './config';

// Hub configs as older transformers versions wrote them (top-level rope_theta, rope_scaling).
const tinyLlama = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 22,
  num_key_value_heads: 4,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.35.0',
  use_cache: true,
  vocab_size: 32000,
};

const llama32_1b = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

const mistral7b = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0',
  use_cache: true,
  vocab_size: 32000,
};

describe('specFromHfConfig on the reference fixtures (transformers 5 rope_parameters)', () => {
  it('llama-tiny', async () => {
    const spec = specFromHfConfig(await readFixtureJson('reference/llama-tiny/config.json'));
    expect(spec).toEqual<ModelSpec>({
      arch: 'llama',
      vocabSize: 384,
      hiddenSize: 64,
      intermediateSize: 160,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: null,
      slidingWindow: null,
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 4096,
      bosTokenId: 1,
      eosTokenId: 2,
    });
  });

  it('mistral-tiny', async () => {
    const spec = specFromHfConfig(await readFixtureJson('reference/mistral-tiny/config.json'));
    expect(spec).toMatchObject({ arch: 'mistral', numHeads: 4, numKvHeads: 1, headDim: 16, ropeTheta: 1e6 });
    expect(spec.slidingWindow).toBe(16);
    expect(spec.ropeScaling).toBeNull();
    expect(spec.vocabSize).toBe(320);
  });

  it('llama3-tiny', async () => {
    const spec = specFromHfConfig(await readFixtureJson('reference/llama3-tiny/config.json'));
    expect(spec).toMatchObject({ arch: 'llama', hiddenSize: 96, numHeads: 6, numKvHeads: 2, headDim: 16 });
    expect(spec.ropeTheta).toBe(500000);
    expect(spec.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 64,
    });
    expect(spec.tieWordEmbeddings).toBe(true);
  });
});

describe('specFromHfConfig on older Hub configs', () => {
  it('TinyLlama-1.1B: head_dim from hidden_size / heads, rope_scaling null', () => {
    const spec = specFromHfConfig(tinyLlama);
    expect(spec).toMatchObject({ arch: 'llama', numLayers: 22, numHeads: 32, numKvHeads: 4, headDim: 64 });
    expect(spec).toMatchObject({ ropeTheta: 10000, ropeScaling: null, slidingWindow: null, maxPositionEmbeddings: 2048 });
  });

  it('Llama-3.2-1B: llama3 rope_scaling, tied embeddings, a list of EOS ids', () => {
    const spec = specFromHfConfig(llama32_1b);
    expect(spec.ropeTheta).toBe(500000);
    expect(spec.ropeScaling).toEqual({
      type: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(spec).toMatchObject({ tieWordEmbeddings: true, headDim: 64, bosTokenId: 128000, eosTokenId: 128001 });
  });

  it('Mistral-7B-v0.1: sliding window', () => {
    const spec = specFromHfConfig(mistral7b);
    expect(spec).toMatchObject({ arch: 'mistral', slidingWindow: 4096, headDim: 128, numKvHeads: 8, ropeTheta: 10000 });
    expect(specFromHfConfig({ ...mistral7b, sliding_window: null }).slidingWindow).toBeNull();
  });

  it('linear scaling under the old "type" key', () => {
    const spec = specFromHfConfig({ ...tinyLlama, rope_scaling: { type: 'linear', factor: 4.0 } });
    expect(spec.ropeScaling).toEqual({ type: 'linear', factor: 4 });
  });

  it('defaults: kv heads = heads, untied, theta 1e4, no window', () => {
    const minimal = {
      model_type: 'mistral',
      vocab_size: 100,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      rms_norm_eps: 1e-6,
    };
    const spec = specFromHfConfig(minimal);
    expect(spec).toMatchObject({ arch: 'mistral', numKvHeads: 4, headDim: 8, tieWordEmbeddings: false, ropeTheta: 10000 });
    expect(spec.slidingWindow).toBeNull();
    expect(specFromHfConfig({ ...minimal, num_key_value_heads: null, head_dim: null }).numKvHeads).toBe(4);
  });

  it('an explicit head_dim wins over hidden_size / heads', () => {
    expect(specFromHfConfig({ ...mistral7b, head_dim: 96 }).headDim).toBe(96);
  });
});

describe('specFromHfConfig errors', () => {
  it('names a missing required field', () => {
    const { hidden_size: _, ...noHidden } = tinyLlama;
    expect(() => specFromHfConfig(noHidden)).toThrow(/missing required field "hidden_size"/);
    const { vocab_size: __, ...noVocab } = tinyLlama;
    expect(() => specFromHfConfig(noVocab)).toThrow(/"vocab_size"/);
  });

  it('names an unsupported architecture or model type', () => {
    expect(() => specFromHfConfig({ ...tinyLlama, architectures: ['Qwen2ForCausalLM'], model_type: undefined })).toThrow(
      /unsupported architecture Qwen2ForCausalLM/,
    );
    expect(() => specFromHfConfig({ ...mistral7b, model_type: 'mixtral' })).toThrow(/unsupported model_type "mixtral"/);
    expect(() => specFromHfConfig({ ...mistral7b, architectures: ['LlamaForCausalLM'] })).toThrow(/contradicts/);
    const { architectures: _, model_type: __, ...neither } = tinyLlama;
    expect(() => specFromHfConfig(neither)).toThrow(/neither "architectures" nor "model_type"/);
    expect(() => specFromHfConfig('llama')).toThrow(/not a JSON object/);
  });

  it('names an unsupported RoPE type', () => {
    const yarn = { ...tinyLlama, rope_scaling: { type: 'yarn', factor: 4.0, original_max_position_embeddings: 2048 } };
    expect(() => specFromHfConfig(yarn)).toThrow(/unsupported RoPE type "yarn"/);
    const dynamic = { ...tinyLlama, rope_parameters: { rope_type: 'dynamic', rope_theta: 10000, factor: 2.0 } };
    expect(() => specFromHfConfig(dynamic)).toThrow(/unsupported RoPE type "dynamic"/);
  });

  it('names a missing llama3 scaling field', () => {
    const { original_max_position_embeddings: _, ...rest } = llama32_1b.rope_scaling;
    expect(() => specFromHfConfig({ ...llama32_1b, rope_scaling: rest })).toThrow(
      /rope_scaling with rope_type "llama3" is missing "original_max_position_embeddings"/,
    );
  });

  it('names an unsupported activation or bias', () => {
    expect(() => specFromHfConfig({ ...tinyLlama, hidden_act: 'gelu' })).toThrow(/unsupported hidden_act "gelu"/);
    expect(() => specFromHfConfig({ ...tinyLlama, attention_bias: true })).toThrow(/attention_bias/);
    expect(() => specFromHfConfig({ ...tinyLlama, quantization_config: { quant_method: 'gptq' } })).toThrow(/quantized/);
  });

  it('says when shapes are inconsistent', () => {
    expect(() => specFromHfConfig({ ...tinyLlama, num_key_value_heads: 5 })).toThrow(
      /num_attention_heads 32 is not a multiple of num_key_value_heads 5/,
    );
    expect(() => specFromHfConfig({ ...tinyLlama, num_attention_heads: 30, num_key_value_heads: 5 })).toThrow(
      /hidden_size 2048 is not divisible by num_attention_heads 30/,
    );
    expect(() => specFromHfConfig({ ...tinyLlama, num_hidden_layers: 0 })).toThrow(/num_hidden_layers must be at least 1, got 0/);
  });
});
