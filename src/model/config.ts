// Hugging Face config.json -> ModelSpec, for Llama and Mistral checkpoints.
// Model sizes are required; other fields take the transformers defaults when absent.
import type { ModelSpec, RopeScaling } from '../engine/spec';
import { MODEL_LIMITS, boundedInt, boundedPositive, checkSpecBounds, describeValue } from './validate';

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

function positiveInt(value: unknown, name: string, max: number): number {
  return boundedInt(value, name, 1, max, fail);
}

function positiveNumber(value: unknown, name: string, max: number): number {
  return boundedPositive(value, name, max, fail);
}

function requiredInt(config: Json, key: string, max: number): number {
  const value = optional(config, key);
  if (value === undefined) fail(`missing required field "${key}"`);
  return positiveInt(value, key, max);
}

/** The field, or `fallback` with a warning naming the default taken. */
function withDefault<T>(config: Json, key: string, fallback: T, warnings: string[], read: (value: unknown) => T, what = String(fallback)): T {
  const value = optional(config, key);
  if (value === undefined) {
    warnings.push(`config.json has no ${key}: ${what} assumed`);
    return fallback;
  }
  return read(value);
}

/** A token id, a list of them (Llama 3 instruct lists several EOS ids: the first is kept), or null. */
function tokenId(config: Json, key: string, fallback: number | null, vocabSize: number, warnings: string[]): number | null {
  if (!(key in config)) {
    warnings.push(`config.json has no ${key}: ${fallback ?? 'none'} assumed`);
    return fallback;
  }
  const value = config[key];
  if (value === null) return null;
  const ids = Array.isArray(value) ? value : [value];
  if (ids.length === 0) fail(`${key} must be a token id or a list of them, got ${describeValue(value)}`);
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      fail(`${key} must be a token id or a list of them, got ${describeValue(value)}`);
    }
    if (id >= vocabSize) fail(`${key} ${id} is outside the vocabulary of vocab_size ${vocabSize} tokens (ids 0..${vocabSize - 1})`);
  }
  return ids[0] as number;
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
function readRope(config: Json, warnings: string[]): { theta: number; scaling: RopeScaling | null } {
  const field = optional(config, 'rope_parameters') !== undefined ? 'rope_parameters' : 'rope_scaling';
  const params = optional(config, field);
  if (params !== undefined && !isObject(params)) fail(`${field} must be an object, got ${describeValue(params)}`);
  if (!('rope_parameters' in config) && !('rope_scaling' in config)) warnings.push('config.json has no rope_scaling (nor rope_parameters): RoPE is not scaled');
  const rope: Json = params ?? {};

  let thetaValue = optional(rope, 'rope_theta') ?? optional(config, 'rope_theta');
  if (thetaValue === undefined) {
    warnings.push('config.json has no rope_theta: 10000 assumed');
    thetaValue = 10000;
  }
  const theta = positiveNumber(thetaValue, 'rope_theta', MODEL_LIMITS.ropeTheta);

  const typeValue = optional(rope, 'rope_type') ?? optional(rope, 'type') ?? 'default';
  if (typeof typeValue !== 'string') fail(`${field}.rope_type must be a string, got ${describeValue(typeValue)}`);
  const ropeNumber = (key: string): number => {
    const value = optional(rope, key);
    if (value === undefined) fail(`${field} with rope_type "${typeValue}" is missing "${key}"`);
    return positiveNumber(value, `${field}.${key}`, MODEL_LIMITS.ropeFactor);
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
          MODEL_LIMITS.positions,
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

/**
 * Builds the engine's ModelSpec from a parsed HF config.json; throws naming what it cannot use. Every size is
 * bounded (MODEL_LIMITS) and token ids lie in the vocabulary. Each default taken for an absent field is named
 * in `warnings`.
 */
export function specFromHfConfig(config: unknown, warnings: string[] = []): ModelSpec {
  if (!isObject(config)) fail('is not a JSON object');
  const arch = readArch(config);

  if (optional(config, 'quantization_config') !== undefined) fail('quantized checkpoints are not supported');
  const hiddenAct = withDefault(config, 'hidden_act', 'silu', warnings, (v) => v);
  if (hiddenAct !== 'silu') fail(`unsupported hidden_act ${describeValue(hiddenAct)} (only "silu")`);
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (optional(config, key) === true) fail(`${key}: true is not supported (linear layers have no bias)`);
  }

  const hiddenSize = requiredInt(config, 'hidden_size', MODEL_LIMITS.hiddenSize);
  const numLayers = requiredInt(config, 'num_hidden_layers', MODEL_LIMITS.layers);
  const intermediateSize = requiredInt(config, 'intermediate_size', MODEL_LIMITS.intermediateSize);
  const vocabSize = requiredInt(config, 'vocab_size', MODEL_LIMITS.vocabSize);
  const numHeads = requiredInt(config, 'num_attention_heads', MODEL_LIMITS.heads);
  const numKvHeads = withDefault(config, 'num_key_value_heads', numHeads, warnings, (v) => positiveInt(v, 'num_key_value_heads', MODEL_LIMITS.heads),
    `${numHeads} (num_attention_heads, no grouped-query attention)`);
  if (numHeads % numKvHeads !== 0) {
    fail(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const explicitHeadDim = optional(config, 'head_dim');
  let headDim: number;
  if (explicitHeadDim !== undefined) {
    headDim = positiveInt(explicitHeadDim, 'head_dim', MODEL_LIMITS.headDim);
  } else {
    if (hiddenSize % numHeads !== 0) {
      fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}, and head_dim is not given`);
    }
    headDim = hiddenSize / numHeads;
    if (headDim > MODEL_LIMITS.headDim) fail(`the head dimension hidden_size / num_attention_heads = ${headDim} is over the limit of ${MODEL_LIMITS.headDim}`);
  }
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} must be even for RoPE`);

  const { theta, scaling } = readRope(config, warnings);

  let slidingWindow: number | null = null;
  if (arch === 'mistral') {
    const window = optional(config, 'sliding_window');
    if (window !== undefined) slidingWindow = positiveInt(window, 'sliding_window', MODEL_LIMITS.positions);
    else if (!('sliding_window' in config)) warnings.push('config.json has no sliding_window: attention over the whole context assumed');
  }

  const tie = withDefault(config, 'tie_word_embeddings', false, warnings, (v) => v);
  if (typeof tie !== 'boolean') fail(`tie_word_embeddings must be a boolean, got ${describeValue(tie)}`);
  const defaultPositions = arch === 'mistral' ? 4096 * 32 : 2048;

  // Some checkpoints name a padding token past the vocabulary; the engine does not use this id, so it is only noted.
  const pad = optional(config, 'pad_token_id');
  if (typeof pad === 'number' && pad >= vocabSize) warnings.push(`config.json's pad_token_id ${pad} is outside the vocabulary of ${vocabSize} tokens and is not used`);

  const spec: ModelSpec = {
    arch,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: withDefault(config, 'rms_norm_eps', 1e-6, warnings, (v) => positiveNumber(v, 'rms_norm_eps', 1)),
    ropeTheta: theta,
    ropeScaling: scaling,
    slidingWindow,
    tieWordEmbeddings: tie,
    maxPositionEmbeddings: withDefault(config, 'max_position_embeddings', defaultPositions, warnings, (v) =>
      positiveInt(v, 'max_position_embeddings', MODEL_LIMITS.positions),
    ),
    bosTokenId: tokenId(config, 'bos_token_id', 1, vocabSize, warnings),
    eosTokenId: tokenId(config, 'eos_token_id', 2, vocabSize, warnings),
  };
  checkSpecBounds(spec, fail);
  return spec;
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
