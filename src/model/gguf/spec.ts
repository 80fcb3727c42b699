// GGUF (llama.cpp's 'llama' architecture: Llama 1/2/3/3.x, and Mistral stored as llama) -> ModelSpec, the
// GGUF <-> HF tensor names, the Q/K row permutation llama.cpp's converter applies, and Llama 3 RoPE
// frequency factors (the rope_freqs.weight tensor) <-> RopeScaling.
import { ropeInverseFrequencies } from '../../engine/rope';
import { type ModelSpec, type RopeScaling, WEIGHT_NAMES } from '../../engine/spec';
import type { GgufMetadata, GgufMetadataValue } from './reader';
import { MODEL_LIMITS, NO_TOKEN, boundedInt, boundedPositive, checkSpecBounds, describeValue } from '../validate';

function fail(message: string): never {
  throw new Error(`GGUF: ${message}`);
}

// ---------------------------------------------------------------------------------------------------------
// Tensor names

/** Per-layer tensors: GGUF suffix after "blk.N." -> the HF weight of layer N. */
const LAYER_TENSORS: Record<string, (layer: number) => string> = {
  'attn_norm.weight': WEIGHT_NAMES.attnNorm,
  'attn_q.weight': (l) => WEIGHT_NAMES.linear(l, 'q_proj'),
  'attn_k.weight': (l) => WEIGHT_NAMES.linear(l, 'k_proj'),
  'attn_v.weight': (l) => WEIGHT_NAMES.linear(l, 'v_proj'),
  'attn_output.weight': (l) => WEIGHT_NAMES.linear(l, 'o_proj'),
  'ffn_norm.weight': WEIGHT_NAMES.mlpNorm,
  'ffn_gate.weight': (l) => WEIGHT_NAMES.linear(l, 'gate_proj'),
  'ffn_up.weight': (l) => WEIGHT_NAMES.linear(l, 'up_proj'),
  'ffn_down.weight': (l) => WEIGHT_NAMES.linear(l, 'down_proj'),
};
const GLOBAL_TENSORS: Record<string, string> = {
  'token_embd.weight': WEIGHT_NAMES.embedding,
  'output_norm.weight': WEIGHT_NAMES.finalNorm,
  'output.weight': WEIGHT_NAMES.lmHead,
};
/** llama.cpp's Llama 3 RoPE frequency factors; no HF counterpart (HF keeps them in config.json). */
export const ROPE_FREQS_TENSOR = 'rope_freqs.weight';

/** HF name of a GGUF tensor, or null for names with no HF counterpart (rope_freqs.weight, unknown names). */
export function hfNameOfGgufTensor(name: string): string | null {
  if (name in GLOBAL_TENSORS) return GLOBAL_TENSORS[name];
  const match = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (match && match[2] in LAYER_TENSORS) return LAYER_TENSORS[match[2]](Number(match[1]));
  return null;
}

/** GGUF name of an HF tensor, or null for names this mapping does not know. */
export function ggufNameOfHfTensor(name: string): string | null {
  for (const [gguf, hf] of Object.entries(GLOBAL_TENSORS)) if (hf === name) return gguf;
  const match = /^model\.layers\.(\d+)\./.exec(name);
  if (match) {
    const layer = Number(match[1]);
    for (const [gguf, hfOf] of Object.entries(LAYER_TENSORS)) if (hfOf(layer) === name) return `blk.${layer}.${gguf}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Q/K row permutation
//
// HF rotates dimension d of each head with d + headDim/2 ("rotate half"); llama.cpp rotates 2i with 2i + 1.
// Its converter therefore reorders the rows of q_proj (heads = numHeads) and k_proj (heads = numKvHeads):
// per head, reshape(2, headDim/2, in).swapaxes(0, 1), so GGUF row 2i + half of a head is HF row
// half * headDim/2 + i of that head.

function checkQkShape(rows: number, heads: number): number {
  if (!Number.isInteger(heads) || heads <= 0 || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    fail(`cannot permute ${rows} rows as ${heads} heads of even size`);
  }
  return rows / heads;
}

/** Heads whose rows llama.cpp permutes in an HF tensor: q_proj over the query heads, k_proj over the kv heads. */
export function permutedQkHeads(spec: ModelSpec, hfName: string): number | null {
  const layer = Number(/^model\.layers\.(\d+)\./.exec(hfName)?.[1]);
  if (hfName === WEIGHT_NAMES.linear(layer, 'q_proj')) return spec.numHeads;
  if (hfName === WEIGHT_NAMES.linear(layer, 'k_proj')) return spec.numKvHeads;
  return null;
}

/** The row order: HF row r is GGUF row order[r] (so order maps HF rows to where llama.cpp put them). */
export function qkRowOrder(rows: number, heads: number): Uint32Array {
  const headDim = checkQkShape(rows, heads);
  const half = headDim / 2;
  const order = new Uint32Array(rows);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      order[h * headDim + i] = h * headDim + 2 * i;
      order[h * headDim + half + i] = h * headDim + 2 * i + 1;
    }
  }
  return order;
}

/** GGUF (llama.cpp) rows -> HF rows of a row-major [rows, cols] float matrix. */
export function unpermuteQkRows(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  if (values.length !== rows * cols) fail(`${values.length} values are not ${rows} x ${cols}`);
  const order = qkRowOrder(rows, heads);
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) out.set(values.subarray(order[r] * cols, (order[r] + 1) * cols), r * cols);
  return out;
}

/** HF rows -> GGUF (llama.cpp) rows: what the converter does. */
export function permuteQkRows(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  if (values.length !== rows * cols) fail(`${values.length} values are not ${rows} x ${cols}`);
  const order = qkRowOrder(rows, heads);
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols, (r + 1) * cols), order[r] * cols);
  return out;
}

/**
 * GGUF rows -> HF rows of an encoded tensor of any type, by moving whole rows: a row of a GGUF matrix
 * (ne[0] values) is a whole number of blocks, so quantized data need not be decoded.
 */
export function unpermuteQkRowBytes(bytes: Uint8Array, rows: number, heads: number): Uint8Array {
  if (bytes.length % rows !== 0) fail(`${bytes.length} bytes are not ${rows} equal rows`);
  const rowBytes = bytes.length / rows;
  const order = qkRowOrder(rows, heads);
  const out = new Uint8Array(bytes.length);
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(order[r] * rowBytes, (order[r] + 1) * rowBytes), r * rowBytes);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// RoPE frequency factors
//
// llama.cpp stores Llama 3 scaling as per-frequency divisors: its inverse frequency i is
// base_inv_freq[i] / factors[i]. Its converter computes them from the HF rope_scaling parameters.

type Llama3Scaling = Extract<RopeScaling, { type: 'llama3' }>;

/** rope_freqs.weight for Llama 3 scaling, as llama.cpp's converter computes it. */
export function llama3RopeFreqFactors(scaling: Llama3Scaling, headDim: number, theta: number): Float32Array {
  const invFreq = ropeInverseFrequencies(headDim, theta, null);
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: originalMax } = scaling;
  const lowFreqWavelen = originalMax / lowFreqFactor;
  const highFreqWavelen = originalMax / highFreqFactor;
  return invFreq.map((freq) => {
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) return 1;
    if (wavelen > lowFreqWavelen) return factor;
    const smooth = (originalMax / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return 1 / ((1 - smooth) / factor + smooth);
  });
}

/** The shortest decimal that rounds to the same float32 (GGUF stores 1e-5 as 9.99999974738e-6). */
export function shortestFloat32(value: number): number {
  const target = Math.fround(value);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  return target;
}

const FACTOR_TOLERANCE = 1e-5;
const close = (a: number, b: number) => Math.abs(a - b) <= FACTOR_TOLERANCE * Math.max(1, Math.abs(b));

function matchesFactors(scaling: Llama3Scaling, factors: Float32Array, headDim: number, theta: number): boolean {
  if (!(scaling.originalMaxPositionEmbeddings > 0) || !(scaling.highFreqFactor > scaling.lowFreqFactor)) return false;
  const expected = llama3RopeFreqFactors(scaling, headDim, theta);
  return expected.every((f, i) => close(factors[i], f));
}

/**
 * The RopeScaling that rope_freqs.weight encodes: null when every factor is 1, linear when all are equal,
 * llama3 when they follow that scheme. The factors only fix the two wavelength thresholds
 * originalMax / lowFreqFactor and originalMax / highFreqFactor, so Meta's low/high factors (1, 4, used by
 * every Llama 3.x) are tried first; otherwise lowFreqFactor 1 is assumed. The result is checked by
 * recomputing the factors. Throws when no RopeScaling reproduces them.
 */
export function ropeScalingFromFreqFactors(factors: Float32Array, headDim: number, theta: number): RopeScaling | null {
  const half = headDim / 2;
  if (factors.length !== half) fail(`${ROPE_FREQS_TENSOR} has ${factors.length} values, expected head_dim / 2 = ${half}`);
  if (!factors.every((f) => Number.isFinite(f) && f > 0)) fail(`${ROPE_FREQS_TENSOR} holds non-positive or non-finite values`);
  if (factors.every((f) => close(f, 1))) return null;
  const factor = shortestFloat32(Math.max(...factors));
  if (factors.every((f) => close(f, factor))) return { type: 'linear', factor };

  const invFreq = ropeInverseFrequencies(headDim, theta, null);
  const wavelens = Array.from(invFreq, (freq) => (2 * Math.PI) / freq);
  const mids: { wavelen: number; smooth: number }[] = [];
  let lastOne = 0; // longest wavelength kept at factor 1
  let firstFull = Infinity; // shortest wavelength divided by the full factor
  factors.forEach((f, i) => {
    if (close(f, 1)) lastOne = Math.max(lastOne, wavelens[i]);
    else if (close(f, factor)) firstFull = Math.min(firstFull, wavelens[i]);
    else mids.push({ wavelen: wavelens[i], smooth: (1 / f - 1 / factor) / (1 - 1 / factor) });
  });
  const unrecognised = () =>
    fail(
      `${ROPE_FREQS_TENSOR} does not follow the Llama 3 scheme (factors ${Array.from(factors, (f) => f.toPrecision(4)).join(', ')}); ` +
        'the engine would need per-frequency RoPE factors',
    );

  const candidate = (lowFreqFactor: number, highFreqFactor: number, originalMax: number): Llama3Scaling => ({
    type: 'llama3',
    factor,
    lowFreqFactor,
    highFreqFactor,
    originalMaxPositionEmbeddings: originalMax,
  });

  // Meta's thresholds: originalMax from the blended band (smooth = (originalMax / wavelen - low) / (high - low)).
  const [low, high] = [1, 4];
  let originalMax: number;
  if (mids.length > 0) {
    const estimates = mids.map(({ wavelen, smooth }) => wavelen * (low + smooth * (high - low)));
    originalMax = Math.round(estimates.reduce((a, b) => a + b, 0) / estimates.length);
  } else {
    // No blended band: any originalMax with lastOne < originalMax / high and originalMax / low < firstFull works.
    const lowest = Math.floor(lastOne * high) + 1;
    originalMax = 2 ** Math.ceil(Math.log2(lowest));
    if (originalMax / low >= firstFull) originalMax = lowest;
  }
  const meta = candidate(low, high, originalMax);
  if (matchesFactors(meta, factors, headDim, theta)) return meta;

  // Other thresholds: a least-squares line smooth = a / wavelen + b through the blended band.
  if (mids.length < 2) unrecognised();
  const xs = mids.map((m) => 1 / m.wavelen);
  const ys = mids.map((m) => m.smooth);
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
  const a =
    xs.reduce((sum, x, i) => sum + (x - meanX) * (ys[i] - meanY), 0) / xs.reduce((sum, x) => sum + (x - meanX) ** 2, 0);
  const b = meanY - a * meanX;
  // smooth = (1/wavelen - 1/lowWavelen) / (1/highWavelen - 1/lowWavelen)
  const lowWavelen = -a / b;
  const highWavelen = 1 / (1 / a + 1 / lowWavelen);
  const fitted = candidate(1, shortestFloat32(lowWavelen / highWavelen), Math.round(lowWavelen));
  if (matchesFactors(fitted, factors, headDim, theta)) return fitted;
  return unrecognised();
}

// ---------------------------------------------------------------------------------------------------------
// Metadata -> ModelSpec

const ARCH = 'llama';

function scalar(metadata: GgufMetadata, key: string): GgufMetadataValue | undefined {
  const value = metadata[key];
  if (Array.isArray(value)) fail(`${key} is a per-layer list, which is not supported`);
  return value;
}

/** An integer key in [min, max], or undefined when absent. */
function optionalInt(metadata: GgufMetadata, key: string, max: number, min = 1): number | undefined {
  const value = scalar(metadata, key);
  if (value === undefined) return undefined;
  return boundedInt(value, key, min, max, fail);
}

function requiredInt(metadata: GgufMetadata, key: string, max: number): number {
  const value = optionalInt(metadata, key, max);
  if (value === undefined) fail(`missing metadata key ${key}`);
  return value;
}

function optionalFloat(metadata: GgufMetadata, key: string, max: number): number | undefined {
  const value = scalar(metadata, key);
  if (value === undefined) return undefined;
  return shortestFloat32(boundedPositive(value, key, max, fail));
}

function readRopeScaling(
  metadata: GgufMetadata,
  hasFreqsTensor: boolean,
  ropeFreqFactors: Float32Array | undefined,
  headDim: number,
  theta: number,
): RopeScaling | null {
  const typeValue = scalar(metadata, `${ARCH}.rope.scaling.type`);
  if (typeValue !== undefined && typeof typeValue !== 'string') fail(`${ARCH}.rope.scaling.type must be a string`);
  let fromKeys: RopeScaling | null = null;
  if (typeValue === 'linear') {
    const factor = optionalFloat(metadata, `${ARCH}.rope.scaling.factor`, MODEL_LIMITS.ropeFactor);
    if (factor === undefined) fail(`missing metadata key ${ARCH}.rope.scaling.factor (rope scaling type linear)`);
    fromKeys = factor === 1 ? null : { type: 'linear', factor };
  } else if (typeValue !== undefined && typeValue !== 'none') {
    fail(`unsupported RoPE scaling type "${typeValue}" (supported: none, linear, and Llama 3 ${ROPE_FREQS_TENSOR})`);
  } else {
    const legacy = optionalFloat(metadata, `${ARCH}.rope.scale_linear`, MODEL_LIMITS.ropeFactor);
    if (legacy !== undefined && legacy !== 1) fromKeys = { type: 'linear', factor: legacy };
  }

  if (!hasFreqsTensor) return fromKeys;
  if (!ropeFreqFactors) fail(`this model scales RoPE with ${ROPE_FREQS_TENSOR}: pass that tensor's values`);
  const fromFactors = ropeScalingFromFreqFactors(ropeFreqFactors, headDim, theta);
  if (fromKeys && fromFactors) fail(`both ${ARCH}.rope.scaling keys and ${ROPE_FREQS_TENSOR} scale RoPE`);
  return fromFactors ?? fromKeys;
}

export interface GgufTensorShape {
  name: string;
  /** GGUF order (ne[0] first). */
  shape: readonly number[];
}

/**
 * Builds the engine's ModelSpec from GGUF metadata and tensor infos (tied embeddings = no output.weight).
 * `ropeFreqFactors` are the values of rope_freqs.weight, required when the file has that tensor.
 * A llama-architecture GGUF with `llama.attention.sliding_window` reads as Mistral (llama.cpp stores Mistral
 * as llama); one without it reads as Llama, whatever its name. Every size is bounded (MODEL_LIMITS) before
 * anything loops over it; a tensor of a layer past block_count, or a token id outside the vocabulary, is
 * refused. Each default taken for an absent key is named in `warnings`.
 */
export function specFromGguf(
  metadata: GgufMetadata,
  tensors: readonly GgufTensorShape[],
  ropeFreqFactors?: Float32Array,
  warnings: string[] = [],
): ModelSpec {
  const architecture = metadata['general.architecture'];
  if (architecture === undefined) fail('missing metadata key general.architecture');
  if (architecture !== ARCH) fail(`unsupported architecture ${describeValue(architecture)} (supported: ${ARCH})`);

  const hiddenSize = requiredInt(metadata, `${ARCH}.embedding_length`, MODEL_LIMITS.hiddenSize);
  const numLayers = requiredInt(metadata, `${ARCH}.block_count`, MODEL_LIMITS.layers);
  const intermediateSize = requiredInt(metadata, `${ARCH}.feed_forward_length`, MODEL_LIMITS.intermediateSize);
  const numHeads = requiredInt(metadata, `${ARCH}.attention.head_count`, MODEL_LIMITS.heads);

  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const { name } of tensors) {
    if (name.endsWith('.bias')) fail(`tensor ${name}: linear layers with bias are not supported`);
    if (name !== ROPE_FREQS_TENSOR && hfNameOfGgufTensor(name) === null) fail(`unexpected tensor ${name} in a llama model`);
    const layer = /^blk\.(\d+)\./.exec(name);
    if (layer && Number(layer[1]) >= numLayers) {
      fail(`tensor ${name} belongs to layer ${layer[1]}, but ${ARCH}.block_count is ${numLayers} (layers 0..${numLayers - 1})`);
    }
  }

  let numKvHeads = optionalInt(metadata, `${ARCH}.attention.head_count_kv`, MODEL_LIMITS.heads);
  if (numKvHeads === undefined) {
    warnings.push(`${ARCH}.attention.head_count_kv is absent: ${numHeads} (head_count, no grouped-query attention) assumed`);
    numKvHeads = numHeads;
  }
  if (numHeads % numKvHeads !== 0) {
    fail(`${ARCH}.attention.head_count ${numHeads} is not a multiple of head_count_kv ${numKvHeads}`);
  }
  const keyLength = optionalInt(metadata, `${ARCH}.attention.key_length`, MODEL_LIMITS.headDim);
  const valueLength = optionalInt(metadata, `${ARCH}.attention.value_length`, MODEL_LIMITS.headDim);
  if (keyLength === undefined && hiddenSize % numHeads !== 0) {
    fail(`${ARCH}.embedding_length ${hiddenSize} is not divisible by head_count ${numHeads}, and key_length is not given`);
  }
  const headDim = keyLength ?? hiddenSize / numHeads;
  if (headDim > MODEL_LIMITS.headDim) fail(`the head dimension ${headDim} is over the limit of ${MODEL_LIMITS.headDim}`);
  if (valueLength !== undefined && valueLength !== headDim) fail(`value_length ${valueLength} differs from key_length ${headDim}`);
  if (headDim % 2 !== 0) fail(`head dimension ${headDim} must be even for RoPE`);
  const ropeDims = optionalInt(metadata, `${ARCH}.rope.dimension_count`, MODEL_LIMITS.headDim) ?? headDim;
  if (ropeDims !== headDim) fail(`${ARCH}.rope.dimension_count ${ropeDims} != head dimension ${headDim}: partial RoPE is not supported`);

  const eps = optionalFloat(metadata, `${ARCH}.attention.layer_norm_rms_epsilon`, 1);
  if (eps === undefined) fail(`missing metadata key ${ARCH}.attention.layer_norm_rms_epsilon`);
  let ropeTheta = optionalFloat(metadata, `${ARCH}.rope.freq_base`, MODEL_LIMITS.ropeTheta);
  if (ropeTheta === undefined) {
    warnings.push(`${ARCH}.rope.freq_base is absent: 10000 assumed`);
    ropeTheta = 10000;
  }
  const hasFreqs = byName.has(ROPE_FREQS_TENSOR);
  const scalingKeys = [`${ARCH}.rope.scaling.type`, `${ARCH}.rope.scaling.factor`, `${ARCH}.rope.scale_linear`];
  if (!hasFreqs && !scalingKeys.some((key) => key in metadata)) {
    warnings.push(`neither ${ROPE_FREQS_TENSOR} nor ${ARCH}.rope.scaling.* keys: RoPE is not scaled (no Llama 3 scaling)`);
  }
  const ropeScaling = readRopeScaling(metadata, hasFreqs, ropeFreqFactors, headDim, ropeTheta);

  const tokens = metadata['tokenizer.ggml.tokens'];
  const embedding = byName.get('token_embd.weight');
  const vocabSize =
    optionalInt(metadata, `${ARCH}.vocab_size`, MODEL_LIMITS.vocabSize) ??
    (Array.isArray(tokens) ? tokens.length : undefined) ??
    embedding?.shape[1];
  if (vocabSize === undefined) fail(`missing metadata key ${ARCH}.vocab_size (and no tokenizer.ggml.tokens or token_embd.weight)`);
  boundedInt(vocabSize, 'the vocabulary size', 1, MODEL_LIMITS.vocabSize, fail);
  if (Array.isArray(tokens) && tokens.length !== vocabSize) {
    fail(`tokenizer.ggml.tokens holds ${tokens.length} tokens, but the model's vocabulary (${ARCH}.vocab_size or token_embd.weight) is ${vocabSize}`);
  }
  if (embedding && (embedding.shape[0] !== hiddenSize || embedding.shape[1] !== vocabSize)) {
    fail(`token_embd.weight has shape ${JSON.stringify(embedding.shape)}, expected [${hiddenSize}, ${vocabSize}]`);
  }

  const slidingWindow = optionalInt(metadata, `${ARCH}.attention.sliding_window`, MODEL_LIMITS.positions, 0) || null;
  const tokenId = (key: string, what: string): number | null => {
    const id = optionalInt(metadata, key, Number.MAX_SAFE_INTEGER, 0);
    if (id === undefined) {
      if (key.endsWith('bos_token_id') || key.endsWith('eos_token_id')) warnings.push(`${key} is absent: the model has no ${what} token`);
      return null;
    }
    if (id === NO_TOKEN) {
      warnings.push(`${key} is ${NO_TOKEN} (llama.cpp's "no token"): the model has no ${what} token`);
      return null;
    }
    if (id >= vocabSize) fail(`${key} ${id} is outside the vocabulary of ${vocabSize} tokens (ids 0..${vocabSize - 1})`);
    return id;
  };
  tokenId('tokenizer.ggml.unknown_token_id', 'unknown');
  tokenId('tokenizer.ggml.padding_token_id', 'padding');
  const tieWordEmbeddings = !byName.has('output.weight');
  if (tieWordEmbeddings) warnings.push('output.weight is absent: the LM head is tied to token_embd.weight');
  const spec: ModelSpec = {
    arch: slidingWindow !== null ? 'mistral' : 'llama',
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: eps,
    ropeTheta,
    ropeScaling,
    slidingWindow,
    tieWordEmbeddings,
    maxPositionEmbeddings: requiredInt(metadata, `${ARCH}.context_length`, MODEL_LIMITS.positions),
    bosTokenId: tokenId('tokenizer.ggml.bos_token_id', 'BOS'),
    eosTokenId: tokenId('tokenizer.ggml.eos_token_id', 'EOS'),
  };
  checkSpecBounds(spec, fail);
  return spec;
}
