// A model's weights read tensor by tensor on the CPU from files that serve byte ranges (the model cache's Blobs,
// a File, a file on disk in Node): for exports, which write one tensor at a time and so never hold the model.
// GGUF (one file or split parts) and safetensors (one file or shards, with config.json).
import { type ModelSpec, baseWeightShapes } from '../engine/spec';
import { specFromHfConfig } from './config';
import { type GgufRangeSource, type GgufTensorInfo, blobRangeSource, parseGgufHeader, readGgufTensor } from './gguf/reader';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, permutedQkHeads, specFromGguf, unpermuteQkRows } from './gguf/spec';
import { tokenizerJsonFromGguf } from './gguf/tokenizer';
import { type SafetensorsTensorInfo, FLOAT_DTYPES, decodeToFloat32, headerByteLength, parseSafetensorsHeader } from './safetensors';
import { type ModelCache, modelCache } from './sources/cache';
import type { CachedModel } from './sources/library';
import type { TokenizerFiles } from './tokenizer';
import { errorMessage } from '../util/errors';

export interface HostTensors {
  spec: ModelSpec;
  /** config.json (safetensors models). */
  config?: Record<string, unknown>;
  tokenizer?: TokenizerFiles;
  /** A base weight by HF name as f32, HF layout (q/k rows in HF order). */
  tensor(hfName: string): Promise<Float32Array>;
}

export interface RangeFile {
  name: string;
  source: GgufRangeSource;
}

function parseJson(name: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${name}: not valid JSON (${errorMessage(error)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${name}: not a JSON object`);
  return value as Record<string, unknown>;
}

/** GGUF parts: every tensor located, the spec from the first part's metadata, the tokenizer from it too. */
export async function ggufHostTensors(parts: RangeFile[], tokenizer?: TokenizerFiles): Promise<HostTensors> {
  const located = new Map<string, { info: GgufTensorInfo; file: RangeFile }>();
  let metadata: Awaited<ReturnType<typeof parseGgufHeader>>['metadata'] | undefined;
  for (const file of parts) {
    let header;
    try {
      header = await parseGgufHeader(file.source);
    } catch (error) {
      throw new Error(`${file.name}: ${errorMessage(error)}`);
    }
    metadata ??= header.metadata;
    for (const info of header.tensorInfos) {
      if (located.has(info.name)) throw new Error(`${file.name}: tensor ${info.name} is also in ${located.get(info.name)?.file.name}`);
      located.set(info.name, { info, file });
    }
  }
  if (!metadata) throw new Error('no GGUF file given');
  const first = parts[0].name;
  const infos = [...located.values()].map((l) => l.info);
  const rope = located.get(ROPE_FREQS_TENSOR);
  const factors = rope ? await readGgufTensor(rope.file.source, rope.info) : undefined;
  let spec: ModelSpec;
  try {
    spec = specFromGguf(metadata, infos, factors);
  } catch (error) {
    throw new Error(`${first}: ${errorMessage(error)}`);
  }
  for (const [hfName, shape] of baseWeightShapes(spec)) {
    const ggufName = ggufNameOfHfTensor(hfName) as string;
    const found = located.get(ggufName);
    if (!found) throw new Error(`${first}: missing tensor ${ggufName} (HF ${hfName})`);
    if ([...found.info.shape].reverse().join(',') !== shape.join(',')) {
      throw new Error(`${found.file.name}: tensor ${ggufName} has shape [${found.info.shape}], expected [${[...shape].reverse()}]`);
    }
  }
  const shapes = baseWeightShapes(spec);
  return {
    spec,
    tokenizer: tokenizer ?? ('tokenizer.ggml.model' in metadata ? tokenizerJsonFromGguf(metadata) : undefined),
    async tensor(hfName) {
      const ggufName = ggufNameOfHfTensor(hfName);
      const found = ggufName === null ? undefined : located.get(ggufName);
      if (!found) throw new Error(`${first}: no tensor for ${hfName}`);
      const values = await readGgufTensor(found.file.source, found.info);
      const heads = permutedQkHeads(spec, hfName);
      const shape = shapes.get(hfName);
      return heads === null || !shape ? values : unpermuteQkRows(values, shape[0], shape[1], heads);
    },
  };
}

/** safetensors files (one or shards) with config.json and, when there, the tokenizer. */
export async function safetensorsHostTensors(files: RangeFile[], configJson: Uint8Array, tokenizer?: TokenizerFiles): Promise<HostTensors> {
  const config = parseJson('config.json', configJson);
  const spec = specFromHfConfig(config);
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
  for (const [name, shape] of baseWeightShapes(spec)) {
    const found = located.get(name);
    if (!found) throw new Error(`${files.map((f) => f.name).join(', ')}: missing tensor ${name}`);
    if (found.info.shape.join(',') !== shape.join(',')) throw new Error(`${found.file.name}: tensor ${name} has shape [${found.info.shape}], expected [${shape}]`);
    if (!FLOAT_DTYPES.includes(found.info.dtype)) throw new Error(`${found.file.name}: tensor ${name} is ${found.info.dtype}, not a float dtype`);
  }
  return {
    spec,
    config,
    tokenizer,
    async tensor(name) {
      const found = located.get(name);
      if (!found) throw new Error(`no tensor named ${name}`);
      const { info, file, dataOffset } = found;
      const bytes = await file.source.read(dataOffset + info.begin, dataOffset + info.end);
      return decodeToFloat32(info.dtype, bytes);
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
