// GGUF (llama.cpp's 'llama' architecture: Llama 1/2/3/3.x, and Mistral stored as llama) -> ModelSpec, the
// GGUF <-> HF tensor names, the Q/K row permutation llama.cpp's converter applies, and Llama 3 RoPE
// frequency factors (the rope_freqs.weight tensor) <-> RopeScaling.
import { ropeInverseFrequencies } from '../../engine/rope';
import { type ModelSpec, type RopeScaling, WEIGHT_NAMES } from '../../engine/spec';
import type { GgufMetadata, GgufMetadataValue } from './reader';

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

function optionalInt(metadata: GgufMetadata, key: string): number | undefined {
  const value = scalar(metadata, key);
  if (value === undefined) return undefined;
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`${key} must be a non-negative integer, got ${String(value)}`);
  return n;
}

function requiredInt(metadata: GgufMetadata, key: string): number {
  const value = optionalInt(metadata, key);
  if (value === undefined) fail(`missing metadata key ${key}`);
  if (value === 0) fail(`${key} must be positive`);
  return value;
}

function optionalFloat(metadata: GgufMetadata, key: string): number | undefined {
  const value = scalar(metadata, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${key} must be a positive number, got ${String(value)}`);
  return shortestFloat32(value);
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
    const factor = optionalFloat(metadata, `${ARCH}.rope.scaling.factor`);
    if (factor === undefined) fail(`missing metadata key ${ARCH}.rope.scaling.factor (rope scaling type linear)`);
    fromKeys = factor === 1 ? null : { type: 'linear', factor };
  } else if (typeValue !== undefined && typeValue !== 'none') {
    fail(`unsupported RoPE scaling type "${typeValue}" (supported: none, linear, and Llama 3 ${ROPE_FREQS_TENSOR})`);
  } else {
    const legacy = optionalFloat(metadata, `${ARCH}.rope.scale_linear`);
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
 * as llama); one without it reads as Llama, whatever its name.
 */
export function specFromGguf(
  metadata: GgufMetadata,
  tensors: readonly GgufTensorShape[],
  ropeFreqFactors?: Float32Array,
): ModelSpec {
  const architecture = metadata['general.architecture'];
  if (architecture === undefined) fail('missing metadata key general.architecture');
  if (architecture !== ARCH) fail(`unsupported architecture "${String(architecture)}" (supported: ${ARCH})`);

  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const { name } of tensors) {
    if (name.endsWith('.bias')) fail(`tensor ${name}: linear layers with bias are not supported`);
    if (name !== ROPE_FREQS_TENSOR && hfNameOfGgufTensor(name) === null) fail(`unexpected tensor ${name} in a llama model`);
  }

  const hiddenSize = requiredInt(metadata, `${ARCH}.embedding_length`);
  const numLayers = requiredInt(metadata, `${ARCH}.block_count`);
  const intermediateSize = requiredInt(metadata, `${ARCH}.feed_forward_length`);
  const numHeads = requiredInt(metadata, `${ARCH}.attention.head_count`);
  const numKvHeads = optionalInt(metadata, `${ARCH}.attention.head_count_kv`) ?? numHeads;
  if (numKvHeads === 0 || numHeads % numKvHeads !== 0) {
    fail(`${ARCH}.attention.head_count ${numHeads} is not a multiple of head_count_kv ${numKvHeads}`);
  }
  const keyLength = optionalInt(metadata, `${ARCH}.attention.key_length`);
  const valueLength = optionalInt(metadata, `${ARCH}.attention.value_length`);
  if (keyLength === undefined && hiddenSize % numHeads !== 0) {
    fail(`${ARCH}.embedding_length ${hiddenSize} is not divisible by head_count ${numHeads}, and key_length is not given`);
  }
  const headDim = keyLength ?? hiddenSize / numHeads;
  if (valueLength !== undefined && valueLength !== headDim) fail(`value_length ${valueLength} differs from key_length ${headDim}`);
  if (headDim % 2 !== 0) fail(`head dimension ${headDim} must be even for RoPE`);
  const ropeDims = optionalInt(metadata, `${ARCH}.rope.dimension_count`) ?? headDim;
  if (ropeDims !== headDim) fail(`${ARCH}.rope.dimension_count ${ropeDims} != head dimension ${headDim}: partial RoPE is not supported`);

  const eps = optionalFloat(metadata, `${ARCH}.attention.layer_norm_rms_epsilon`);
  if (eps === undefined) fail(`missing metadata key ${ARCH}.attention.layer_norm_rms_epsilon`);
  const ropeTheta = optionalFloat(metadata, `${ARCH}.rope.freq_base`) ?? 10000;
  const ropeScaling = readRopeScaling(metadata, byName.has(ROPE_FREQS_TENSOR), ropeFreqFactors, headDim, ropeTheta);

  const tokens = metadata['tokenizer.ggml.tokens'];
  const embedding = byName.get('token_embd.weight');
  const vocabSize =
    optionalInt(metadata, `${ARCH}.vocab_size`) ?? (Array.isArray(tokens) ? tokens.length : undefined) ?? embedding?.shape[1];
  if (!vocabSize) fail(`missing metadata key ${ARCH}.vocab_size (and no tokenizer.ggml.tokens or token_embd.weight)`);
  if (embedding && (embedding.shape[0] !== hiddenSize || embedding.shape[1] !== vocabSize)) {
    fail(`token_embd.weight has shape ${JSON.stringify(embedding.shape)}, expected [${hiddenSize}, ${vocabSize}]`);
  }

  const slidingWindow = optionalInt(metadata, `${ARCH}.attention.sliding_window`) || null;
  const tokenId = (key: string): number | null => optionalInt(metadata, key) ?? null;
  return {
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
    tieWordEmbeddings: !byName.has('output.weight'),
    maxPositionEmbeddings: requiredInt(metadata, `${ARCH}.context_length`),
    bosTokenId: tokenId('tokenizer.ggml.bos_token_id'),
    eosTokenId: tokenId('tokenizer.ggml.eos_token_id'),
  };
}
