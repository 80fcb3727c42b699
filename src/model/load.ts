// Loads an HF-style model folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
// through a reader, so the same code serves URLs (the embedded model in public/) and files on disk.
import type { Tokenizer } from '../data/tokenizer';
import type { ModelSpec } from '../engine/spec';
import { specFromHfConfig } from './config';
import { checkFinite } from './finite';
import { type SafetensorsFile, readSafetensors } from './safetensors';
import { loadTokenizer } from './tokenizer';
import { checkSafetensorsModel } from './validate';

export type FileReader = (name: string, onBytes?: (loaded: number, total: number) => void) => Promise<Uint8Array>;

export interface ModelFolder {
  spec: ModelSpec;
  weights: SafetensorsFile;
  tokenizer: Tokenizer;
  /** Each default config.json left to take, in words. */
  warnings: string[];
}

const decodeJson = (bytes: Uint8Array, name: string): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${name} is not valid JSON: ${(error as Error).message}`);
  }
};

export async function loadTokenizerFiles(read: FileReader): Promise<Tokenizer> {
  const [tokenizer, config] = await Promise.all([read('tokenizer.json'), read('tokenizer_config.json')]);
  return loadTokenizer({
    tokenizer: decodeJson(tokenizer, 'tokenizer.json') as object,
    config: decodeJson(config, 'tokenizer_config.json') as Record<string, unknown>,
  });
}

export async function loadModelFolder(read: FileReader, onProgress?: (loaded: number, total: number) => void): Promise<ModelFolder> {
  const warnings: string[] = [];
  const spec = specFromHfConfig(decodeJson(await read('config.json'), 'config.json'), warnings);
  const tokenizer = await loadTokenizerFiles(read);
  if (tokenizer.vocabSize > spec.vocabSize) {
    throw new Error(`the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${spec.vocabSize}`);
  }
  const weights = checkedModelWeights(spec, await read('model.safetensors', onProgress), 'model.safetensors', warnings);
  return { spec, weights, tokenizer, warnings };
}

/**
 * A model.safetensors held in memory, checked against the spec as every loader checks it (./validate) and its
 * weights checked for NaN and infinity. Errors name the file.
 */
export function checkedModelWeights(spec: ModelSpec, bytes: Uint8Array, file: string, warnings: string[] = []): SafetensorsFile {
  let weights: SafetensorsFile;
  try {
    weights = readSafetensors(bytes);
    for (const name of weights.header.tensors.keys()) {
      const { dtype } = weights.info(name);
      if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64') checkFinite(name, dtype, weights.tensorBytes(name));
    }
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  checkSafetensorsModel(spec, new Map([...weights.header.tensors].map(([name, info]) => [name, { ...info, file }])), [file], warnings);
  return weights;
}

/** Reads files under a base URL, reporting bytes as they arrive. */
export function httpReader(baseUrl: string): FileReader {
  return async (name, onBytes) => {
    const url = new URL(name, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(`could not fetch ${url}: ${(error as Error).message} (offline?)`);
    }
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
    const total = Number(response.headers.get('content-length') ?? 0);
    if (!response.body || !onBytes) return new Uint8Array(await response.arrayBuffer());
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      onBytes(loaded, total);
    }
    const bytes = new Uint8Array(loaded);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  };
}

export function fetchTokenizer(baseUrl: string): Promise<Tokenizer> {
  return loadTokenizerFiles(httpReader(baseUrl));
}
