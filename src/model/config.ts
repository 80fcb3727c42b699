// Hugging Face config.json -> ModelSpec, for Llama and Mistral checkpoints.
// Model sizes are required; other fields take the transformers defaults when absent.
import type { ModelSpec, RopeScaling } from '../engine/spec';

type Json = Record<string, unknown>;

function fail(message: string): never {
  throw new Error(`config.json: ${message}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field that is absent or null reads as undefined. */
function optional(config: Json, key: string): unknown {
  const value = config[key];
  return value === null ? undefined : value;
}

function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(`${name} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function requiredInt(config: Json, key: string): number {
  const value = optional(config, key);
  if (value === undefined) fail(`missing required field "${key}"`);
  return positiveInt(value, key);
}

function optionalInt(config: Json, key: string, fallback: number): number {
  const value = optional(config, key);
  return value === undefined ? fallback : positiveInt(value, key);
}

/** A token id, a list of them (Llama 3 instruct lists several EOS ids: the first is kept), or null. */
function tokenId(config: Json, key: string, fallback: number | null): number | null {
  if (!(key in config)) return fallback;
  const value = config[key];
  if (value === null) return null;
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first !== 'number' || !Number.isSafeInteger(first) || first < 0) {
    fail(`${key} must be a token id or a list of them, got ${JSON.stringify(value)}`);
  }
  return first;
}

const ARCHITECTURES: Record<string, ModelSpec['arch']> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
};
const MODEL_TYPES: Record<string, ModelSpec['arch']> = { llama: 'llama', mistral: 'mistral' };

function readArch(config: Json): ModelSpec['arch'] {
  const modelType = optional(config, 'model_type');
  const architectures = optional(config, 'architectures');
  let fromType: ModelSpec['arch'] | undefined;
  let fromArchitectures: ModelSpec['arch'] | undefined;
  if (modelType !== undefined) {
    if (typeof modelType !== 'string') fail(`model_type must be a string, got ${JSON.stringify(modelType)}`);
    fromType = MODEL_TYPES[modelType];
    if (!fromType) fail(`unsupported model_type "${modelType}" (supported: ${Object.keys(MODEL_TYPES).join(', ')})`);
  }
  if (architectures !== undefined) {
    if (!Array.isArray(architectures) || !architectures.every((a) => typeof a === 'string')) {
      fail(`architectures must be a list of strings, got ${JSON.stringify(architectures)}`);
    }
    const known = architectures.map((a) => ARCHITECTURES[a]).filter((a) => a !== undefined);
    if (known.length === 0) {
      fail(
        `unsupported architecture ${architectures.join(', ') || '(empty list)'} ` +
          `(supported: ${Object.keys(ARCHITECTURES).join(', ')})`,
      );
    }
    fromArchitectures = known[0];
  }
  if (fromType && fromArchitectures && fromType !== fromArchitectures) {
    fail(`model_type "${String(modelType)}" contradicts architectures ${JSON.stringify(architectures)}`);
  }
  const arch = fromArchitectures ?? fromType;
  if (!arch) fail('has neither "architectures" nor "model_type"');
  return arch;
}

/**
 * RoPE settings. transformers 5 writes `rope_parameters` {rope_theta, rope_type, ...}; older configs have a
 * top-level `rope_theta` and `rope_scaling` {type | rope_type, factor, ...} (or null).
 */
function readRope(config: Json): { theta: number; scaling: RopeScaling | null } {
  const field = optional(config, 'rope_parameters') !== undefined ? 'rope_parameters' : 'rope_scaling';
  const params = optional(config, field);
  if (params !== undefined && !isObject(params)) fail(`${field} must be an object, got ${JSON.stringify(params)}`);
  const rope: Json = params ?? {};

  const thetaValue = optional(rope, 'rope_theta') ?? optional(config, 'rope_theta') ?? 10000;
  const theta = positiveNumber(thetaValue, 'rope_theta');

  const typeValue = optional(rope, 'rope_type') ?? optional(rope, 'type') ?? 'default';
  if (typeof typeValue !== 'string') fail(`${field}.rope_type must be a string, got ${JSON.stringify(typeValue)}`);
  const ropeNumber = (key: string): number => {
    const value = optional(rope, key);
    if (value === undefined) fail(`${field} with rope_type "${typeValue}" is missing "${key}"`);
    return positiveNumber(value, `${field}.${key}`);
  };
  switch (typeValue) {
    case 'default':
      return { theta, scaling: null };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: ropeNumber('factor') } };
    case 'llama3': {
      const scaling: RopeScaling = {
        type: 'llama3',
        factor: ropeNumber('factor'),
        lowFreqFactor: ropeNumber('low_freq_factor'),
        highFreqFactor: ropeNumber('high_freq_factor'),
        originalMaxPositionEmbeddings: positiveInt(
          optional(rope, 'original_max_position_embeddings') ??
            fail(`${field} with rope_type "llama3" is missing "original_max_position_embeddings"`),
          `${field}.original_max_position_embeddings`,
        ),
      };
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        fail(`${field}: high_freq_factor ${scaling.highFreqFactor} must exceed low_freq_factor ${scaling.lowFreqFactor}`);
      }
      return { theta, scaling };
    }
    default:
      return fail(`unsupported RoPE type "${typeValue}" (supported: default, linear, llama3)`);
  }
}

/** Builds the engine's ModelSpec from a parsed HF config.json; throws naming what it cannot use. */
export function specFromHfConfig(config: unknown): ModelSpec {
  if (!isObject(config)) fail('is not a JSON object');
  const arch = readArch(config);

  if (optional(config, 'quantization_config') !== undefined) fail('quantized checkpoints are not supported');
  const hiddenAct = optional(config, 'hidden_act') ?? 'silu';
  if (hiddenAct !== 'silu') fail(`unsupported hidden_act ${JSON.stringify(hiddenAct)} (only "silu")`);
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (optional(config, key) === true) fail(`${key}: true is not supported (linear layers have no bias)`);
  }

  const hiddenSize = requiredInt(config, 'hidden_size');
  const numHeads = requiredInt(config, 'num_attention_heads');
  const numKvHeads = optionalInt(config, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const explicitHeadDim = optional(config, 'head_dim');
  let headDim: number;
  if (explicitHeadDim !== undefined) {
    headDim = positiveInt(explicitHeadDim, 'head_dim');
  } else {
    if (hiddenSize % numHeads !== 0) {
      fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}, and head_dim is not given`);
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} must be even for RoPE`);

  const { theta, scaling } = readRope(config);

  let slidingWindow: number | null = null;
  if (arch === 'mistral') {
    const window = optional(config, 'sliding_window');
    if (window !== undefined) slidingWindow = positiveInt(window, 'sliding_window');
  }

  const tie = optional(config, 'tie_word_embeddings') ?? false;
  if (typeof tie !== 'boolean') fail(`tie_word_embeddings must be a boolean, got ${JSON.stringify(tie)}`);

  return {
    arch,
    vocabSize: requiredInt(config, 'vocab_size'),
    hiddenSize,
    intermediateSize: requiredInt(config, 'intermediate_size'),
    numLayers: requiredInt(config, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNumber(optional(config, 'rms_norm_eps') ?? 1e-6, 'rms_norm_eps'),
    ropeTheta: theta,
    ropeScaling: scaling,
    slidingWindow,
    tieWordEmbeddings: tie,
    maxPositionEmbeddings: optionalInt(config, 'max_position_embeddings', arch === 'mistral' ? 4096 * 32 : 2048),
    bosTokenId: tokenId(config, 'bos_token_id', 1),
    eosTokenId: tokenId(config, 'eos_token_id', 2),
  };
}

/** config.json as transformers 5 writes it, for a spec that specFromHfConfig reads back unchanged. */
export function hfConfigJson(spec: ModelSpec): Record<string, unknown> {
  if (spec.arch === 'llama' && spec.slidingWindow !== null) throw new Error('a Llama config has no sliding window');
  const rope: Record<string, unknown> = { rope_theta: spec.ropeTheta, rope_type: 'default' };
  if (spec.ropeScaling?.type === 'linear') {
    Object.assign(rope, { rope_type: 'linear', factor: spec.ropeScaling.factor });
  } else if (spec.ropeScaling?.type === 'llama3') {
    const s = spec.ropeScaling;
    Object.assign(rope, {
      rope_type: 'llama3',
      factor: s.factor,
      low_freq_factor: s.lowFreqFactor,
      high_freq_factor: s.highFreqFactor,
      original_max_position_embeddings: s.originalMaxPositionEmbeddings,
    });
  }
  const config: Record<string, unknown> = {
    architectures: [spec.arch === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0,
    bos_token_id: spec.bosTokenId,
    dtype: 'float32',
    eos_token_id: spec.eosTokenId,
    head_dim: spec.headDim,
    hidden_act: 'silu',
    hidden_size: spec.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: spec.intermediateSize,
    max_position_embeddings: spec.maxPositionEmbeddings,
    model_type: spec.arch,
    num_attention_heads: spec.numHeads,
    num_hidden_layers: spec.numLayers,
    num_key_value_heads: spec.numKvHeads,
    pad_token_id: 0,
    rms_norm_eps: spec.rmsNormEps,
    rope_parameters: rope,
    tie_word_embeddings: spec.tieWordEmbeddings,
    use_cache: true,
    vocab_size: spec.vocabSize,
  };
  if (spec.arch === 'llama') config.mlp_bias = false;
  if (spec.arch === 'mistral') config.sliding_window = spec.slidingWindow;
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1)));
}
