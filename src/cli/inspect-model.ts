// `npm run inspect`: each model path (a .gguf file or its split parts, a folder with config.json and safetensors
// shards, or an http(s) URL of either read with Range requests) checked by the loaders' own validation, reading
// only headers (and the tokenizer files) unless every weight is to be checked for NaN and infinity.
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parameterCount } from '../model/validate';
import { type HostTensors, type RangeFile, ggufHostTensors, parseJson, safetensorsHostTensors } from '../model/host-tensors';
import type { TokenizerFiles } from '../model/tokenizer';
import { errorMessage } from '../util/errors';
import { httpFile, httpRangeSource } from './http-range';
import { nodeRangeFile } from './node-folder';

export type InspectResult =
  | {
      path: string;
      ok: true;
      arch: string;
      layers: number;
      params: number;
      tensor_types: Record<string, number>;
      tokenizer: string | null;
      warnings: string[];
    }
  | { path: string; ok: false; error: string };

/** The files of one model, wherever they are. */
interface ModelFiles {
  format: 'gguf' | 'safetensors';
  weights: RangeFile[];
  /** config.json's bytes and name (safetensors). */
  config?: { name: string; bytes: Uint8Array };
  tokenizer?: { name: string; files: TokenizerFiles };
  close(): Promise<void>;
}

const SPLIT_GGUF = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/** Reads files by name under a folder (a path or a URL), and ranges of them. */
interface Place {
  /** The name a message uses for a file of the folder. */
  label(name: string): string;
  /** A small file whole, or null when absent. */
  file(name: string): Promise<Uint8Array | null>;
  ranged(name: string): Promise<RangeFile>;
  close(): Promise<void>;
}

function folderPlace(dir: string): Place {
  const closers: (() => Promise<void>)[] = [];
  return {
    label: (name) => join(dir, name),
    file: async (name) => {
      const found = await stat(join(dir, name)).catch(() => null);
      if (!found) return null;
      if (!found.isFile()) throw new Error(`${join(dir, name)}: not a regular file`);
      return new Uint8Array(await readFile(join(dir, name)));
    },
    ranged: async (name) => {
      const found = await stat(join(dir, name)).catch(() => null);
      if (!found) throw new Error(`${join(dir, name)}: not found`);
      if (!found.isFile()) throw new Error(`${join(dir, name)}: not a regular file`);
      const { file, close } = await nodeRangeFile(join(dir, name));
      closers.push(close);
      return file;
    },
    close: async () => void (await Promise.all(closers.map((close) => close()))),
  };
}

function urlPlace(base: string): Place {
  const url = (name: string) => new URL(name, base).toString();
  return {
    label: url,
    file: (name) => httpFile(url(name)),
    ranged: async (name) => ({ name: url(name), source: await httpRangeSource(url(name)) }),
    close: async () => {},
  };
}

async function tokenizerOf(place: Place): Promise<ModelFiles['tokenizer']> {
  const tokenizer = await place.file('tokenizer.json');
  if (!tokenizer) return undefined;
  const config = await place.file('tokenizer_config.json');
  return {
    name: place.label('tokenizer.json'),
    files: {
      tokenizer: parseJson(place.label('tokenizer.json'), tokenizer),
      config: config ? parseJson(place.label('tokenizer_config.json'), config) : {},
    },
  };
}

/** A safetensors model: config.json beside model.safetensors or model.safetensors.index.json and its shards. */
async function safetensorsFiles(place: Place, file?: string): Promise<ModelFiles> {
  const config = await place.file('config.json');
  if (!config) throw new Error(`${place.label('config.json')}: not found (a safetensors model needs its config.json)`);
  const index = await place.file('model.safetensors.index.json');
  let shards = [file ?? 'model.safetensors'];
  if (index) {
    const map = parseJson(place.label('model.safetensors.index.json'), index).weight_map;
    if (typeof map !== 'object' || map === null || !Object.values(map).every((v) => typeof v === 'string' && /^[^/\\]+\.safetensors$/.test(v))) {
      throw new Error(`${place.label('model.safetensors.index.json')}: weight_map must map tensor names to .safetensors files of the folder`);
    }
    const listed = [...new Set(Object.values(map as Record<string, string>))].sort();
    // A shard given by name reads the whole model when the index lists it.
    if (file === undefined || listed.includes(file)) shards = listed;
  }
  const weights: RangeFile[] = [];
  for (const shard of shards) weights.push(await place.ranged(shard));
  return { format: 'safetensors', weights, config: { name: place.label('config.json'), bytes: config }, tokenizer: await tokenizerOf(place), close: place.close };
}

/** The files of the model at `path`: a folder, a file, or a URL of either. */
async function modelFiles(path: string): Promise<ModelFiles> {
  if (/^https?:\/\//i.test(path)) {
    const url = new URL(path);
    if (url.pathname.endsWith('/')) return safetensorsFiles(urlPlace(url.toString()));
    const name = basename(url.pathname);
    const base = new URL('./', url).toString();
    if (/\.safetensors$|\.json$/i.test(name)) return safetensorsFiles(urlPlace(base), /\.safetensors$/i.test(name) ? name : undefined);
    const place = urlPlace(base);
    const split = SPLIT_GGUF.exec(name);
    const names = split ? Array.from({ length: Number(split[3]) }, (_, i) => `${split[1]}-${String(i + 1).padStart(5, '0')}-of-${split[3]}.gguf`) : [name];
    const weights: RangeFile[] = [];
    for (const part of names) weights.push(await place.ranged(part));
    return { format: 'gguf', weights, tokenizer: await tokenizerOf(place), close: place.close };
  }
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`${path}: no such file or folder`);
  if (info.isDirectory()) {
    const place = folderPlace(path);
    if (existsSync(join(path, 'config.json'))) return safetensorsFiles(place);
    const ggufs = (await readdir(path)).filter((f) => f.endsWith('.gguf')).sort();
    if (ggufs.length === 0) throw new Error(`${path}: neither config.json (with safetensors) nor a .gguf file`);
    const firsts = ggufs.filter((f) => !SPLIT_GGUF.test(f) || SPLIT_GGUF.exec(f)?.[2] === '00001');
    if (firsts.length > 1) throw new Error(`${path}: holds several GGUF models (${firsts.join(', ')}); give one file`);
    return ggufModel(join(path, firsts[0]));
  }
  // A FIFO or a device would block the first read: only regular files are models.
  if (!info.isFile()) throw new Error(`${path}: not a regular file or folder`);
  if (/\.safetensors$|\.json$/i.test(path)) return safetensorsFiles(folderPlace(dirname(path)), /\.safetensors$/i.test(path) ? basename(path) : undefined);
  return ggufModel(path);
}

/** A local GGUF file, with its other parts when its name says it is split part 1 of N. */
async function ggufModel(path: string): Promise<ModelFiles> {
  const place = folderPlace(dirname(path));
  const split = SPLIT_GGUF.exec(basename(path));
  const names = split ? Array.from({ length: Number(split[3]) }, (_, i) => `${split[1]}-${String(i + 1).padStart(5, '0')}-of-${split[3]}.gguf`) : [basename(path)];
  const weights: RangeFile[] = [];
  try {
    for (const name of names) {
      if (!existsSync(join(dirname(path), name))) throw new Error(`${join(dirname(path), name)}: not found (split part of ${path})`);
      const file = await place.ranged(name);
      weights.push({ ...file, name: names.length === 1 ? path : file.name });
    }
  } catch (error) {
    await place.close();
    throw error;
  }
  return { format: 'gguf', weights, tokenizer: await tokenizerOf(place), close: place.close };
}

/** A short description of a tokenizer: its kind, where it comes from and its number of tokens. */
function describeTokenizer(files: TokenizerFiles, source: string, vocabSize: number): string {
  const model = (files.tokenizer as { model?: { type?: unknown } }).model;
  const type = typeof model?.type === 'string' ? model.type : 'unknown';
  return `${type} (${source}), ${vocabSize} tokens`;
}

/** One model path checked as the loaders check it; every weight's values too with `checkValues`. */
export async function inspectModel(path: string, options: { checkValues?: boolean } = {}): Promise<InspectResult> {
  let files: ModelFiles | null = null;
  try {
    files = await modelFiles(path);
    let host: HostTensors;
    if (files.format === 'gguf') {
      host = await ggufHostTensors(files.weights, files.tokenizer?.files);
    } else {
      const { config } = files;
      host = await safetensorsHostTensors(files.weights, config?.bytes ?? new Uint8Array(), files.tokenizer?.files).catch((error: unknown) => {
        const message = errorMessage(error);
        throw new Error(message.startsWith('config.json:') ? `${config?.name}${message.slice('config.json'.length)}` : message);
      });
    }
    let tokenizer: string | null = null;
    if (host.tokenizer) {
      const source = files.tokenizer?.name ?? 'GGUF tokenizer.ggml.*';
      let loaded;
      try {
        // Imported only for a model with a tokenizer: @huggingface/transformers takes a second to load.
        const { loadTokenizer } = await import('../model/tokenizer');
        loaded = loadTokenizer(host.tokenizer);
      } catch (error) {
        throw new Error(`${source}: the tokenizer cannot be built: ${errorMessage(error)}`);
      }
      if (loaded.vocabSize > host.spec.vocabSize) {
        throw new Error(`${source}: the tokenizer has ${loaded.vocabSize} tokens but the model only ${host.spec.vocabSize}`);
      }
      tokenizer = describeTokenizer(host.tokenizer, files.tokenizer ? 'tokenizer.json' : 'GGUF', loaded.vocabSize);
    }
    if (options.checkValues) await host.checkValues();
    return {
      path,
      ok: true,
      arch: host.spec.arch,
      layers: host.spec.numLayers,
      params: parameterCount(host.spec),
      tensor_types: host.tensorTypes,
      tokenizer,
      warnings: host.warnings,
    };
  } catch (error) {
    return { path, ok: false, error: errorMessage(error) };
  } finally {
    await files?.close();
  }
}

export const INSPECT_USAGE = 'usage: npm run inspect -- [--check-values] PATH|URL...';

/** The command: one JSON line per path on `out`; 0 when every path is a valid model, 1 when one is not, 2 for usage. */
export async function inspectMain(args: readonly string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const checkValues = args.includes('--check-values');
  const paths = args.filter((a) => a !== '--check-values');
  const unknown = paths.filter((a) => a.startsWith('--'));
  if (paths.length === 0 || unknown.length > 0) {
    err(`${unknown.length > 0 ? `unknown option ${unknown[0]}\n` : ''}${INSPECT_USAGE}`);
    return 2;
  }
  let failed = false;
  for (const path of paths) {
    const result = await inspectModel(path, { checkValues });
    failed ||= !result.ok;
    out(JSON.stringify(result));
  }
  return failed ? 1 : 0;
}
