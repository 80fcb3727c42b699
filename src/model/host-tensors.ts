// A model's weights read tensor by tensor on the CPU from files that serve byte ranges (the model cache's Blobs,
// a File, a file on disk in Node): for exports, which write one tensor at a time and so never hold the model.
// GGUF (one file or split parts) and safetensors (one file or shards, with config.json). Every check of the
// loaders applies (./validate), and every tensor read is checked for NaN and infinity.
import { type ModelSpec, baseWeightShapes } from '../engine/spec';
import { dequantize } from '../engine/ggml';
import { specFromHfConfig } from './config';
import { checkFinite } from './finite';
import { type GgufMetadata, type GgufRangeSource, type GgufTensorInfo, blobRangeSource, parseGgufHeader, readGgufTensorBytes } from './gguf/reader';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, permutedQkHeads, specFromGguf, unpermuteQkRows } from './gguf/spec';
import { tokenizerJsonFromGguf } from './gguf/tokenizer';
import { type SafetensorsTensorInfo, decodeToFloat32, headerByteLength, parseSafetensorsHeader } from './safetensors';
import { type ModelCache, modelCache } from './sources/cache';
import type { CachedModel } from './sources/library';
import type { TokenizerFiles } from './tokenizer';
import { type LocatedSafetensor, checkGgufModel, checkGgufSplit, checkSafetensorsModel } from './validate';
import { errorMessage } from '../util/errors';

export interface HostTensors {
  spec: ModelSpec;
  /** config.json (safetensors models). */
  config?: Record<string, unknown>;
  tokenizer?: TokenizerFiles;
  /** Each default the model's files left the reader to take, in words. */
  warnings: string[];
  /** How many of the files' tensors have each type (GGML type or safetensors dtype). */
  tensorTypes: Record<string, number>;
  /**
   * A base weight by HF name as f32, HF layout (q/k rows in HF order). Its bytes are checked for NaN and
   * infinity first (values, or the scales of GGML blocks).
   */
  tensor(hfName: string): Promise<Float32Array>;
  /** Reads every tensor of the files and checks that its values are finite; throws naming the first that is not. */
  checkValues(): Promise<void>;
}

export interface RangeFile {
  name: string;
  source: GgufRangeSource;
}

/** A JSON object file's content; errors name the file. */
export function parseJson(name: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${name}: not valid JSON (${errorMessage(error)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${name}: not a JSON object`);
  return value as Record<string, unknown>;
}

const countTypes = (types: Iterable<string>): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const type of types) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
};

/** GGUF parts: every tensor located, the spec from the first part's metadata, the tokenizer from it too. */
export async function ggufHostTensors(parts: RangeFile[], tokenizer?: TokenizerFiles): Promise<HostTensors> {
  const located = new Map<string, { info: GgufTensorInfo; file: RangeFile }>();
  let metadata: GgufMetadata | undefined;
  const splitMetadata: GgufMetadata[] = [];
  for (const file of parts) {
    let header;
    try {
      header = await parseGgufHeader(file.source);
    } catch (error) {
      throw new Error(`${file.name}: ${errorMessage(error)}`);
    }
    metadata ??= header.metadata;
    splitMetadata.push(header.metadata);
    for (const info of header.tensorInfos) {
      if (located.has(info.name)) throw new Error(`${file.name}: tensor ${info.name} is also in ${located.get(info.name)?.file.name}`);
      located.set(info.name, { info, file });
    }
  }
  if (!metadata) throw new Error('no GGUF file given');
  const first = parts[0].name;
  checkGgufSplit(parts.map((part, i) => ({ name: part.name, metadata: i === 0 ? (metadata as GgufMetadata) : splitMetadata[i] })));
  const infos = [...located.values()].map((l) => l.info);
  const warnings: string[] = [];
  let spec: ModelSpec;
  try {
    // The spec's sizes are checked before rope_freqs.weight is read (its length comes from them).
    specFromGguf(metadata, infos.filter((info) => info.name !== ROPE_FREQS_TENSOR));
    const rope = located.get(ROPE_FREQS_TENSOR);
    let factors: Float32Array | undefined;
    if (rope) {
      const bytes = await readGgufTensorBytes(rope.file.source, rope.info);
      checkFinite(ROPE_FREQS_TENSOR, rope.info.type, bytes);
      factors = dequantize(rope.info.type, bytes, rope.info.shape.reduce((a, b) => a * b, 1));
    }
    spec = specFromGguf(metadata, infos, factors, warnings);
    checkGgufModel(spec, infos, ggufNameOfHfTensor);
    if (!tokenizer && 'tokenizer.ggml.model' in metadata) tokenizer = tokenizerJsonFromGguf(metadata);
  } catch (error) {
    throw new Error(`${first}: ${errorMessage(error)}`);
  }
  const shapes = baseWeightShapes(spec);
  const encoded = async (l: { info: GgufTensorInfo; file: RangeFile }) => {
    const bytes = await readGgufTensorBytes(l.file.source, l.info);
    try {
      checkFinite(l.info.name, l.info.type, bytes);
    } catch (error) {
      throw new Error(`${l.file.name}: ${errorMessage(error)}`);
    }
    return bytes;
  };
  return {
    spec,
    tokenizer,
    warnings,
    tensorTypes: countTypes(infos.map((info) => info.type)),
    async tensor(hfName) {
      const ggufName = ggufNameOfHfTensor(hfName);
      const found = ggufName === null ? undefined : located.get(ggufName);
      if (!found) throw new Error(`${first}: no tensor for ${hfName}`);
      const values = dequantize(found.info.type, await encoded(found), found.info.shape.reduce((a, b) => a * b, 1));
      const heads = permutedQkHeads(spec, hfName);
      const shape = shapes.get(hfName);
      return heads === null || !shape ? values : unpermuteQkRows(values, shape[0], shape[1], heads);
    },
    async checkValues() {
      for (const l of located.values()) await encoded(l);
    },
  };
}

/** safetensors files (one or shards) with config.json and, when there, the tokenizer. */
export async function safetensorsHostTensors(files: RangeFile[], configJson: Uint8Array, tokenizer?: TokenizerFiles): Promise<HostTensors> {
  const config = parseJson('config.json', configJson);
  const warnings: string[] = [];
  const spec = specFromHfConfig(config, warnings);
  const located = new Map<string, { info: SafetensorsTensorInfo; file: RangeFile; dataOffset: number }>();
  for (const file of files) {
    try {
      const length = headerByteLength(await file.source.read(0, 8));
      const header = parseSafetensorsHeader(await file.source.read(0, 8 + length), file.source.size);
      for (const [name, info] of header.tensors) {
        if (located.has(name)) throw new Error(`tensor ${name} is also in ${located.get(name)?.file.name}`);
        located.set(name, { info, file, dataOffset: header.dataOffset });
      }
    } catch (error) {
      throw new Error(`${file.name}: ${errorMessage(error)}`);
    }
  }
  const tensors = new Map<string, LocatedSafetensor>([...located].map(([name, l]) => [name, { dtype: l.info.dtype, shape: l.info.shape, file: l.file.name }]));
  checkSafetensorsModel(spec, tensors, files.map((f) => f.name), warnings);
  const raw = async (l: { info: SafetensorsTensorInfo; file: RangeFile; dataOffset: number }) => {
    const bytes = await l.file.source.read(l.dataOffset + l.info.begin, l.dataOffset + l.info.end);
    if (bytes.length !== l.info.end - l.info.begin) throw new Error(`${l.file.name}: tensor ${l.info.name} could not be read whole (truncated file?)`);
    if (l.info.dtype === 'F32' || l.info.dtype === 'F16' || l.info.dtype === 'BF16' || l.info.dtype === 'F64') {
      try {
        checkFinite(l.info.name, l.info.dtype, bytes);
      } catch (error) {
        throw new Error(`${l.file.name}: ${errorMessage(error)}`);
      }
    }
    return bytes;
  };
  return {
    spec,
    config,
    tokenizer,
    warnings,
    tensorTypes: countTypes([...located.values()].map((l) => l.info.dtype)),
    async tensor(name) {
      const found = located.get(name);
      if (!found) throw new Error(`no tensor named ${name}`);
      return decodeToFloat32(found.info.dtype, await raw(found));
    },
    async checkValues() {
      for (const l of located.values()) await raw(l);
    },
  };
}

/** A cached model's weights, read from the cache's files by range. */
export async function cachedHostTensors(manifest: CachedModel, cache: ModelCache = modelCache()): Promise<HostTensors> {
  const open = async (key: string): Promise<RangeFile> => {
    const blob = await cache.blob(key);
    if (!blob) throw new Error(`${manifest.name}: ${key} is no longer in the browser's model cache: add the model again`);
    return { name: key, source: blobRangeSource(blob) };
  };
  const bytesOf = async (key: string) => {
    const file = await open(key);
    return file.source.read(0, file.source.size);
  };
  const tokenizer = manifest.tokenizer
    ? {
        tokenizer: parseJson(manifest.tokenizer, await bytesOf(manifest.tokenizer)),
        config: manifest.tokenizerConfig ? parseJson(manifest.tokenizerConfig, await bytesOf(manifest.tokenizerConfig)) : {},
      }
    : undefined;
  const weights = await Promise.all(manifest.weights.map(open));
  if (manifest.format === 'gguf') return ggufHostTensors(weights, tokenizer);
  if (!manifest.config) throw new Error(`${manifest.name}: the manifest names no config.json`);
  return safetensorsHostTensors(weights, await bytesOf(manifest.config), tokenizer);
}
