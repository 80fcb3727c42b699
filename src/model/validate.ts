// What every path that reads a model (the app's loader, the picker's plan, the CLI's host tensors, reference cases,
// `npm run inspect`) checks the same way: bounds on every hyperparameter before anything loops over or allocates
// from it, and a model's tensors against its spec (every layer's weights present with their shapes and dtypes,
// nothing of a layer past the count).
import { type ModelSpec, baseWeightShapes } from '../engine/spec';
import type { GgufTensorShape } from './gguf/spec';
import { MODEL_DTYPES, type SafetensorsDtype } from './safetensors';

/**
 * Upper bounds of hyperparameters, far above any Llama or Mistral (Llama 3.1 405B: 126 layers, hidden 16384,
 * FFN 53248, 128 heads; vocabularies up to 2^18; contexts up to 2^21), so that a corrupt value is refused before a
 * loop over layers or an allocation of vocab x hidden.
 */
export const MODEL_LIMITS = {
  layers: 1024,
  hiddenSize: 65536,
  intermediateSize: 1 << 20,
  heads: 1024,
  headDim: 1024,
  vocabSize: 1 << 22,
  positions: 1 << 24,
  ropeTheta: 1e12,
  ropeFactor: 1e4,
} as const;

/** A value as a message shows it: numbers as JavaScript writes them (Infinity, not JSON's null), the rest as JSON. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** An integer in [min, max]; `fail` gets the problem in words. */
export function boundedInt(value: unknown, name: string, min: number, max: number, fail: (message: string) => never): number {
  const n = typeof value === 'bigint' ? (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : NaN) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) fail(`${name} must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  if (n < min) fail(`${name} must be at least ${min}, got ${n}`);
  if (n > max) fail(`${name} is ${n}, over the limit of ${max}`);
  return n;
}

/** A finite number in (0, max]. */
export function boundedPositive(value: unknown, name: string, max: number, fail: (message: string) => never): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${name} must be a finite positive number, got ${describeValue(value)}`);
  if (value <= 0) fail(`${name} must be positive, got ${value}`);
  if (value > max) fail(`${name} is ${value}, over the limit of ${max}`);
  return value;
}

/** llama.cpp's LLAMA_TOKEN_NULL (-1) as a GGUF uint32: some converters write it for "no such token". */
export const NO_TOKEN = 0xffffffff;

/** Bounds of the spec's sizes that the readers do not check one by one (shared by GGUF and config.json). */
export function checkSpecBounds(spec: ModelSpec, fail: (message: string) => never): void {
  if (spec.numKvHeads > spec.numHeads) fail(`${spec.numKvHeads} KV heads are more than the ${spec.numHeads} attention heads`);
  for (const [what, id] of [['BOS', spec.bosTokenId], ['EOS', spec.eosTokenId]] as const) {
    if (id !== null && id >= spec.vocabSize) fail(`the ${what} token id ${id} is outside the vocabulary of ${spec.vocabSize} tokens (ids 0..${spec.vocabSize - 1})`);
  }
}

/** Layer index of an HF weight name (model.layers.N.…), or null. */
function layerOf(name: string): number | null {
  const match = /^model\.layers\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : null;
}

/** The number of parameters of the model's base weights (a tied LM head counted once). */
export function parameterCount(spec: ModelSpec): number {
  let count = 0;
  for (const shape of baseWeightShapes(spec).values()) count += shape.reduce((a, b) => a * b, 1);
  return count;
}

export interface LocatedSafetensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** The file that holds it. */
  file: string;
}

/**
 * A safetensors model's tensors (all shards together, by name) against the spec from config.json: every base
 * weight present, of a model dtype (F32, F16, BF16) and its shape; no tensor of a layer past num_hidden_layers.
 * Tensors that are no weight of the model are ignored with a warning. Throws naming the file and the tensor.
 */
/** A problem of a model's tensors, with the file it is in (the first of them when a tensor is missing from all). */
export class TensorFileError extends Error {
  constructor(readonly file: string, message: string, where = file) {
    super(`${where}: ${message}`);
    this.name = 'TensorFileError';
  }
}

export function checkSafetensorsModel(spec: ModelSpec, tensors: ReadonlyMap<string, LocatedSafetensor>, files: readonly string[], warnings: string[]): void {
  const shapes = baseWeightShapes(spec);
  const ignored: string[] = [];
  for (const [name, t] of tensors) {
    const layer = layerOf(name);
    if (layer !== null && layer >= spec.numLayers) {
      throw new TensorFileError(t.file, `tensor ${name} belongs to layer ${layer}, but config.json has num_hidden_layers ${spec.numLayers} (layers 0..${spec.numLayers - 1})`);
    }
    const shape = shapes.get(name);
    if (!shape) {
      ignored.push(name);
      continue;
    }
    if (!MODEL_DTYPES.includes(t.dtype)) throw new TensorFileError(t.file, `tensor ${name} is ${t.dtype}; model weights must be ${MODEL_DTYPES.join(', ')}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new TensorFileError(t.file, `tensor ${name} has shape [${t.shape}], but config.json implies [${shape}]`);
    }
  }
  const missing = [...shapes.keys()].filter((name) => !tensors.has(name));
  if (missing.length > 0) {
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
    throw new TensorFileError(files[0], `missing tensors ${missing.slice(0, 3).join(', ')}${more}`, files.join(', '));
  }
  if (ignored.length > 0) {
    const more = ignored.length > 3 ? ` and ${ignored.length - 3} more` : '';
    warnings.push(`tensor${ignored.length > 1 ? 's' : ''} ${ignored.slice(0, 3).join(', ')}${more} ${ignored.length > 1 ? 'are' : 'is'} not part of a ${spec.arch} model and ignored`);
  }
}

/** A GGUF model's tensors against its spec: every base weight present with its shape. Throws naming the tensor. */
export function checkGgufModel(spec: ModelSpec, tensors: readonly GgufTensorShape[], ggufNameOf: (hfName: string) => string | null): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [hfName, shape] of baseWeightShapes(spec)) {
    const ggufName = ggufNameOf(hfName) as string;
    const found = byName.get(ggufName);
    if (!found) throw new Error(`GGUF: missing tensor ${ggufName} (HF ${hfName})`);
    const expected = [...shape].reverse();
    if (found.shape.length !== expected.length || found.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`GGUF: tensor ${ggufName} has shape [${found.shape}], expected [${expected}] (HF ${hfName} [${shape}])`);
    }
  }
}

/**
 * Split GGUF parts in order: split.count (when given) is the number of parts, and split.no each part's place.
 * A part's name starts its error (none for a file its caller names).
 */
export function checkGgufSplit(parts: readonly { name: string; metadata: Record<string, unknown> }[]): void {
  const named = (name: string) => (name ? `${name}: ` : '');
  const asInt = (value: unknown) => (typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : undefined);
  const count = asInt(parts[0].metadata['split.count']);
  if (count !== undefined && count !== parts.length) {
    throw new Error(`${named(parts[0].name)}GGUF: split.count says the model has ${count} parts, but ${parts.length} ${parts.length === 1 ? 'file was' : 'files were'} given`);
  }
  parts.forEach((part, i) => {
    const no = asInt(part.metadata['split.no']);
    if (no !== undefined && no !== i) throw new Error(`${named(part.name)}GGUF: split.no says it is part ${no + 1}, but it was given as part ${i + 1}`);
  });
}
