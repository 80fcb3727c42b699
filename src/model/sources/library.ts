// The models the user has brought into the browser: each is a set of files in the ModelCache (downloaded from
// the Hub or a URL, or copied from a local file) plus a manifest in IndexedDB that says which file is what.
// A manifest is written only once every file of the model is complete in the cache.
import { type UseStore, createStore, del, get, set, values } from 'idb-keyval';
import { type ModelCache, type CacheWriteMeta, checkQuota, modelCache } from './cache';
import { DownloadError, describeHttpStatus, isCancelled, sha256Hex, streamFile, throwIfCancelled } from './download';
import { HUB_ENDPOINT, type HubFile, type ResolvedModel, resolveHubFiles, splitGgufParts } from './hub';
import { streamBlob } from './local';
import { ProgressMeter, type TransferProgress } from './progress';
import { isQuotaError } from '../../util/errors';

/** Where a cached model came from. `endpoint` is set only for a Hub other than huggingface.co. */
export type ModelOrigin =
  | { kind: 'hub'; repo: string; revision: string; file?: string; endpoint?: string }
  | { kind: 'url'; url: string }
  | { kind: 'file'; names: string[] };

export interface CachedModel {
  /** Stable id, derived from the origin (the same Hub file or URL maps to the same id). */
  id: string;
  /** What the UI shows, e.g. `TinyLlama-1.1B-Chat-v1.0.Q4_K_M.gguf`. */
  name: string;
  origin: ModelOrigin;
  format: 'gguf' | 'safetensors';
  /** ModelCache keys of the weight files in file order (safetensors shards, or GGUF split parts). */
  weights: string[];
  /** ModelCache key of config.json (safetensors models). */
  config?: string;
  /** ModelCache key of tokenizer.json; a GGUF without one builds its tokenizer from its metadata. */
  tokenizer?: string;
  /** ModelCache key of tokenizer_config.json, when there is one. */
  tokenizerConfig?: string;
  /** Bytes of all the model's files. */
  bytes: number;
  /** Date.now() when the last file was cached. */
  addedAt: number;
}

/** Progress of adding a model: bytes over all the files still to transfer, and the file being transferred. */
export interface AddModelProgress extends TransferProgress {
  /** Name of the file being transferred. */
  file: string;
  /** 1-based, among the files to transfer (files already cached are not counted). */
  fileIndex: number;
  fileCount: number;
}

export interface AddModelOptions {
  signal?: AbortSignal;
  onProgress?: (progress: AddModelProgress) => void;
}

export interface HubModelSource {
  /** `owner/name`. */
  repo: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** A `.gguf` (any part of a split one), `.safetensors` or `.safetensors.index.json`; default: the repo's safetensors. */
  file?: string;
  /** Sent only to the Hub, in the Authorization header. */
  token?: string;
  endpoint?: string;
}

export interface ModelLibraryOptions {
  /** Default: the app's cache (modelCache()). */
  cache?: ModelCache;
  /** IndexedDB database of the manifests (store 'models'). Default 'manyicl-model-library'. */
  database?: string;
  /** Where the quota estimate comes from. Default navigator.storage. */
  storage?: StorageManager;
  fetch?: typeof fetch;
  /** Passed on to streamFile. */
  maxRetries?: number;
  retryDelayMs?: number;
}

export class LibraryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LibraryError';
  }
}

type FileRole = 'weights' | 'config' | 'tokenizer' | 'tokenizerConfig';

/** One file of a model about to be added: where its bytes come from and where they go in the cache. */
interface PlannedFile {
  role: FileRole;
  key: string;
  /** File name, for progress and errors. */
  name: string;
  /** Bytes, when known before the transfer. */
  size?: number;
  /** Lowercase hex, when the source announced it (Hub LFS files). */
  sha256?: string;
  source: { kind: 'http'; url: string; token?: string } | { kind: 'blob'; blob: Blob };
  meta?: CacheWriteMeta;
}

interface ModelPlan {
  id: string;
  name: string;
  origin: ModelOrigin;
  format: CachedModel['format'];
  files: PlannedFile[];
}

const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
const ROLE_ORDER: FileRole[] = ['config', 'tokenizer', 'tokenizerConfig', 'weights'];

export class ModelLibrary {
  readonly cache: ModelCache;
  private readonly manifests: UseStore;
  private readonly storage: StorageManager | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: ModelLibraryOptions = {}) {
    this.cache = options.cache ?? modelCache();
    this.manifests = createStore(options.database ?? 'manyicl-model-library', 'models');
    this.storage = options.storage ?? globalThis.navigator?.storage;
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Every cached model, newest first. */
  async list(): Promise<CachedModel[]> {
    const models = await values<CachedModel>(this.manifests);
    return models.sort((a, b) => b.addedAt - a.addedAt);
  }

  async get(id: string): Promise<CachedModel | undefined> {
    return get<CachedModel>(id, this.manifests);
  }

  /** Deletes the model's files (those no other model uses), then its manifest. */
  async delete(id: string): Promise<void> {
    const model = await this.get(id);
    if (!model) return;
    const others = (await this.list()).filter((m) => m.id !== id);
    const inUse = new Set(others.flatMap(modelKeys));
    for (const key of modelKeys(model)) {
      if (!inUse.has(key)) await this.cache.delete(key);
    }
    await del(id, this.manifests);
  }

  /** A model from the Hugging Face Hub (or a server laid out like it); the Hub's sha256 of LFS files is checked. */
  async addHubModel(source: HubModelSource, options: AddModelOptions = {}): Promise<CachedModel> {
    const { signal } = options;
    const repo = source.repo.trim();
    const revision = source.revision?.trim() || 'main';
    const file = source.file?.trim() || undefined;
    const token = source.token?.trim() || undefined;
    const endpoint = (source.endpoint ?? HUB_ENDPOINT).replace(/\/+$/, '');
    let resolved: ResolvedModel;
    try {
      resolved = await resolveHubFiles({ repo, revision, file, token, endpoint, fetch: this.fetchWith(signal) });
    } catch (error) {
      throwIfCancelled(signal);
      throw error;
    }
    if (resolved.format === 'safetensors') requireTokenizerFiles(Boolean(resolved.config), Boolean(resolved.tokenizer), `${repo}@${revision}`);
    const planned = (role: FileRole, hubFile: HubFile): PlannedFile => ({
      role,
      key: hubFile.url,
      name: hubFile.path.split('/').pop() ?? hubFile.path,
      size: hubFile.size,
      sha256: hubFile.sha256,
      source: { kind: 'http', url: hubFile.url, token },
      meta: { repo, revision, path: hubFile.path },
    });
    const files = resolved.weights.map((w) => planned('weights', w));
    // A GGUF holds its own config; its tokenizer too, but a tokenizer.json beside it is taken when there is one.
    if (resolved.config && resolved.format === 'safetensors') files.push(planned('config', resolved.config));
    if (resolved.tokenizer) files.push(planned('tokenizer', resolved.tokenizer));
    if (resolved.tokenizerConfig) files.push(planned('tokenizerConfig', resolved.tokenizerConfig));
    const origin: ModelOrigin = {
      kind: 'hub',
      repo,
      revision,
      ...(file && { file }),
      ...(endpoint !== HUB_ENDPOINT && { endpoint }),
    };
    const ggufName = resolved.format === 'gguf' ? ggufModelName(files[0].name) : null;
    const name = ggufName ?? (revision === 'main' ? repo : `${repo}@${revision}`);
    return this.install({ id: modelId(origin), name, origin, format: resolved.format, files }, options);
  }

  /**
   * A model by URL: a `.gguf` file (split parts are found beside it), a `.safetensors` file or a
   * `model.safetensors.index.json` with config.json and tokenizer.json in the same folder, or that folder
   * (a URL ending in `/`).
   */
  async addUrlModel(url: string, options: AddModelOptions = {}): Promise<CachedModel> {
    const { signal } = options;
    let base: URL;
    try {
      base = new URL(url.trim());
    } catch {
      throw new LibraryError(`"${url}" is not a URL`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new LibraryError(`${base.href}: only http and https URLs can be downloaded`);
    const href = base.href;
    const fileName = decodeURIComponent(base.pathname.split('/').pop() ?? '');
    const lower = fileName.toLowerCase();
    const sibling = (name: string) => {
      const next = new URL(name.split('/').map(encodeURIComponent).join('/'), base);
      next.search = base.search;
      return next.href;
    };
    const probe = (target: string) => this.probe(target, signal);
    const required = async (target: string, what: string) => {
      const found = await probe(target);
      if (!found) throw new LibraryError(`${what} not found: ${target} (HTTP 404)`);
      return found;
    };
    const httpFile = (role: FileRole, target: string, size: number | undefined): PlannedFile => ({
      role,
      key: target,
      name: decodeURIComponent(new URL(target).pathname.split('/').pop() ?? target),
      size,
      source: { kind: 'http', url: target },
    });

    let format: CachedModel['format'];
    let files: PlannedFile[];
    let name: string;
    if (lower.endsWith('.gguf')) {
      format = 'gguf';
      const parts = splitGgufParts(fileName) ?? [fileName];
      files = await Promise.all(
        parts.map(async (part) => {
          const target = part === fileName ? href : sibling(part);
          return httpFile('weights', target, (await required(target, parts.length > 1 ? `GGUF part ${part}` : 'the GGUF file')).size);
        }),
      );
      name = ggufModelName(fileName);
    } else {
      format = 'safetensors';
      let shards: string[];
      if (lower.endsWith('.safetensors.index.json')) {
        shards = shardsOfIndex(await this.getJson(href, signal), href);
      } else if (lower.endsWith('.safetensors')) {
        shards = [fileName];
      } else if (base.pathname.endsWith('/')) {
        const index = await this.getJson(sibling('model.safetensors.index.json'), signal, true);
        shards = index === null ? ['model.safetensors'] : shardsOfIndex(index, sibling('model.safetensors.index.json'));
      } else {
        throw new LibraryError(
          `${href}: expected a URL to a .gguf file, a .safetensors file, a model.safetensors.index.json, or a model folder ending in /`,
        );
      }
      files = await Promise.all(
        shards.map(async (shard) => httpFile('weights', sibling(shard), (await required(sibling(shard), 'safetensors weights')).size)),
      );
      const [config, tokenizer, tokenizerConfig] = await Promise.all(
        ['config.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => probe(sibling(f))),
      );
      const folder = new URL('./', base);
      requireTokenizerFiles(config !== null, tokenizer !== null, `the folder ${folder.origin}${folder.pathname}`);
      files.push(httpFile('config', sibling('config.json'), config?.size));
      files.push(httpFile('tokenizer', sibling('tokenizer.json'), tokenizer?.size));
      if (tokenizerConfig) files.push(httpFile('tokenizerConfig', sibling('tokenizer_config.json'), tokenizerConfig.size));
      name = folderName(folder);
    }
    const origin: ModelOrigin = { kind: 'url', url: href };
    return this.install({ id: modelId(origin), name, origin, format, files }, options);
  }

  /**
   * Local files (file picker, drag and drop), copied into the cache so the model survives reloads: one .gguf
   * or every part of a split one, or .safetensors weights with config.json and tokenizer.json (and
   * tokenizer_config.json, model.safetensors.index.json when there). Other files of a model folder are ignored.
   * `name` overrides the shown name (e.g. the dropped folder's name).
   */
  async addLocalFiles(files: File[], options: AddModelOptions & { name?: string } = {}): Promise<CachedModel> {
    const byName = new Map<string, File>();
    for (const file of files) {
      if (byName.has(file.name)) throw new LibraryError(`two files are named ${file.name}: choose the files of one model`);
      byName.set(file.name, file);
    }
    const names = [...byName.keys()];
    const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf'));
    const shards = names.filter((n) => n.toLowerCase().endsWith('.safetensors'));
    const localFile = (role: FileRole, name: string): PlannedFile => {
      const file = byName.get(name) as File;
      return { role, key: localKey(file), name, size: file.size, source: { kind: 'blob', blob: file } };
    };
    if (ggufs.length > 0 && shards.length > 0) throw new LibraryError('choose either GGUF files or safetensors files, not both');

    let format: CachedModel['format'];
    let planned: PlannedFile[];
    let name: string;
    if (ggufs.length > 0) {
      format = 'gguf';
      const parts = splitGgufParts(ggufs[0]) ?? [ggufs[0]];
      const missing = parts.filter((p) => !byName.has(p));
      if (missing.length > 0) throw new LibraryError(`${ggufs[0]} is part of a split GGUF: also choose ${missing.join(', ')}`);
      const extra = ggufs.filter((g) => !parts.includes(g));
      if (extra.length > 0) throw new LibraryError(`choose the GGUF files of one model (${extra.join(', ')} is another one)`);
      planned = parts.map((p) => localFile('weights', p));
      name = ggufModelName(ggufs[0]);
    } else if (shards.length > 0) {
      format = 'safetensors';
      const index = byName.get('model.safetensors.index.json');
      if (index) {
        const listed = shardsOfIndex(parseJson(await index.text(), index.name), index.name);
        const missing = listed.filter((s) => !byName.has(s));
        if (missing.length > 0) throw new LibraryError(`model.safetensors.index.json lists ${missing.join(', ')}: choose that file too`);
        shards.splice(0, shards.length, ...listed);
      }
      requireTokenizerFiles(byName.has('config.json'), byName.has('tokenizer.json'), 'the chosen files');
      planned = [...shards.sort().map((s) => localFile('weights', s)), localFile('config', 'config.json'), localFile('tokenizer', 'tokenizer.json')];
      if (byName.has('tokenizer_config.json')) planned.push(localFile('tokenizerConfig', 'tokenizer_config.json'));
      name = shards.length === 1 ? shards[0] : `${shards.length} safetensors shards`;
    } else {
      const listed = names.length > 0 ? names.join(', ') : 'no files';
      throw new LibraryError(
        `expected a .gguf file (or every part of a split one), or .safetensors weights with config.json and tokenizer.json; got ${listed}`,
      );
    }
    const origin: ModelOrigin = { kind: 'file', names: planned.map((f) => f.name) };
    const id = modelId({ ...origin, keys: planned.map((f) => f.key) });
    return this.install({ id, name: options.name?.trim() || name, origin, format, files: planned }, options);
  }

  /**
   * Checks the quota for what is not cached yet, transfers it, then saves the manifest. A cancel removes the
   * files this call wrote; after a failure, downloaded files stay, so that adding the model again goes on
   * from there (local copies go: they are quick to make again).
   */
  private async install(plan: ModelPlan, options: AddModelOptions): Promise<CachedModel> {
    const { signal, onProgress } = options;
    throwIfCancelled(signal);
    const files = [...plan.files].sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role));
    const toFetch: PlannedFile[] = [];
    for (const file of files) {
      if (!(await this.isCached(file))) toFetch.push(file);
    }
    let total = toFetch.reduce((sum, f) => sum + (f.size ?? 0), 0);
    const quota = await checkQuota(total, this.storage);
    if (!quota.ok) throw new LibraryError(`${plan.name}: ${quota.message}`);

    let current = { file: '', fileIndex: 0 };
    const meter = new ProgressMeter(total, (p) => onProgress?.({ ...p, ...current, fileCount: toFetch.length }));
    const written: PlannedFile[] = [];
    let done = 0;
    try {
      for (const [i, file] of toFetch.entries()) {
        current = { file: file.name, fileIndex: i + 1 };
        meter.update(done, true);
        const size = await this.transfer(file, plan.format, signal, (fileBytes) => meter.update(done + fileBytes));
        written.push(file);
        total += size - (file.size ?? 0); // the size was unknown, or a hint (JSON)
        meter.setTotal(total);
        done += size;
      }
      meter.update(done, true);
      let bytes = 0;
      for (const file of files) bytes += (await this.cache.info(file.key))?.size ?? 0;
      const keysOf = (role: FileRole) => files.filter((f) => f.role === role).map((f) => f.key);
      const model: CachedModel = {
        id: plan.id,
        name: plan.name,
        origin: plan.origin,
        format: plan.format,
        weights: keysOf('weights'),
        ...(keysOf('config')[0] && { config: keysOf('config')[0] }),
        ...(keysOf('tokenizer')[0] && { tokenizer: keysOf('tokenizer')[0] }),
        ...(keysOf('tokenizerConfig')[0] && { tokenizerConfig: keysOf('tokenizerConfig')[0] }),
        bytes,
        addedAt: Date.now(),
      };
      await set(model.id, model, this.manifests);
      return model;
    } catch (error) {
      const removable = isCancelled(error) ? written : written.filter((f) => f.source.kind === 'blob');
      await this.removeUnused(removable.map((f) => f.key));
      if (isQuotaError(error)) {
        // The up-front check passed, but the disk filled while writing (other data, or a size that was a hint).
        const kept = written.some((f) => f.source.kind === 'http') ? ' The files saved so far are kept, so adding it again goes on from there.' : '';
        throw new LibraryError(
          `The browser's storage is full: ${plan.name} could not be saved (${formatMiB(done)} of ${formatMiB(total)} were saved when writing ${current.file} failed). Free space (delete cached models or runs) and add it again.${kept}`,
        );
      }
      throw error;
    }
  }

  /** A complete copy in the cache that matches what the source announces (size, sha256). */
  private async isCached(file: PlannedFile): Promise<boolean> {
    const record = await this.cache.info(file.key);
    if (!record) return false;
    if (file.role === 'weights' && file.size !== undefined && record.size !== file.size) return false;
    if (file.sha256 !== undefined && record.sha256 !== undefined && record.sha256 !== file.sha256.toLowerCase()) return false;
    return this.cache.has(file.key);
  }

  /** Streams one file into the cache; returns its size. Nothing of it stays in the cache when it fails. */
  private async transfer(file: PlannedFile, format: CachedModel['format'], signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<number> {
    const isJson = file.role !== 'weights';
    // JSON files may come compressed, so their size is only a hint for the quota check.
    const expectedSize = isJson ? undefined : file.size;
    const writer = await this.cache.write(file.key, { ...file.meta, size: expectedSize, sha256: file.sha256 });
    const head = new HeadCheck(file, format);
    let received = 0;
    const onChunk = async (chunk: Uint8Array) => {
      head.push(chunk, expectedSize ?? file.size);
      await writer.write(chunk);
      received += chunk.length;
      onBytes(received);
    };
    try {
      const result =
        file.source.kind === 'http'
          ? await streamFile({
              url: file.source.url,
              token: file.source.token,
              signal,
              expectedSize,
              onChunk,
              fetch: this.options.fetch,
              maxRetries: this.options.maxRetries,
              retryDelayMs: this.options.retryDelayMs,
            })
          : await streamBlob({ blob: file.source.blob, signal, onChunk });
      head.finish(result.size);
      await writer.close(); // hashes what was written and checks it against file.sha256, once
      return result.size;
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** Deletes cache files that no manifest lists. */
  private async removeUnused(keys: string[]): Promise<void> {
    const inUse = new Set((await this.list()).flatMap(modelKeys));
    for (const key of keys) {
      if (!inUse.has(key)) await this.cache.delete(key).catch(() => {});
    }
  }

  private fetchWith(signal: AbortSignal | undefined): typeof fetch {
    return (input, init) => this.fetchFn(input, { ...init, signal });
  }

  /** Size of a file on a server (HEAD); null when it is not there (404, 410). */
  private async probe(url: string, signal: AbortSignal | undefined): Promise<{ size?: number } | null> {
    const response = await this.request(url, { method: 'HEAD', signal });
    if (response.status === 404 || response.status === 410) return null;
    if (!response.ok) throw new DownloadError(describeHttpStatus(response.status, url, false), url, response.status);
    const length = response.headers.get('content-length');
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    return length !== null && /^\d+$/.test(length) && !encoded ? { size: Number(length) } : {};
  }

  /** A JSON file; null for a 404 when `optional`. */
  private async getJson(url: string, signal: AbortSignal | undefined, optional = false): Promise<unknown> {
    const response = await this.request(url, { method: 'GET', signal });
    if (optional && (response.status === 404 || response.status === 410)) {
      void response.body?.cancel().catch(() => {});
      return null;
    }
    if (!response.ok) throw new DownloadError(describeHttpStatus(response.status, url, false), url, response.status);
    return parseJson(await response.text(), url);
  }

  private async request(url: string, init: { method: 'GET' | 'HEAD'; signal?: AbortSignal }): Promise<Response> {
    try {
      return await this.fetchFn(url, { ...init, redirect: 'follow', cache: 'no-store' });
    } catch (error) {
      throwIfCancelled(init.signal);
      throw new DownloadError(
        `could not reach ${url}: ${(error as Error).message} (offline, or the server does not allow downloads from other sites (CORS)?)`,
        url,
      );
    }
  }
}

const formatMiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Checks the first bytes of weight files: the GGUF magic, or a plausible safetensors header length. */
class HeadCheck {
  private readonly head: number[] = [];
  private checked = false;

  constructor(
    private readonly file: PlannedFile,
    private readonly format: CachedModel['format'],
  ) {}

  push(chunk: Uint8Array, size: number | undefined): void {
    if (this.checked || this.file.role !== 'weights') return;
    for (let i = 0; i < chunk.length && this.head.length < 9; i++) this.head.push(chunk[i]);
    if (this.head.length >= 9) this.check(size);
  }

  finish(size: number): void {
    if (!this.checked && this.file.role === 'weights') this.check(size);
  }

  private check(size: number | undefined): void {
    this.checked = true;
    const head = this.head;
    if (this.format === 'gguf') {
      if (head.length < 4 || GGUF_MAGIC.some((b, i) => head[i] !== b)) {
        throw new LibraryError(`${this.file.name} is not a GGUF file (it does not start with "GGUF")`);
      }
      return;
    }
    const headerLength = head.length >= 8 ? head.slice(0, 8).reduce((sum, b, i) => sum + b * 2 ** (8 * i), 0) : -1;
    const fits = headerLength >= 2 && (size === undefined || 8 + headerLength <= size);
    if (!fits || head[8] !== 0x7b /* { */) {
      throw new LibraryError(`${this.file.name} is not a safetensors file (its header is not there)`);
    }
  }
}

/** Every cache key a model uses. */
export function modelKeys(model: CachedModel): string[] {
  return [...model.weights, model.config, model.tokenizer, model.tokenizerConfig].filter((k): k is string => k !== undefined);
}

/** A short id from what identifies the model's origin. */
function modelId(identity: object): string {
  return `${(identity as { kind: string }).kind}-${sha256Hex(new TextEncoder().encode(JSON.stringify(identity))).slice(0, 20)}`;
}

/** The cache key of a local file: its name, size and modification time. */
function localKey(file: File): string {
  return `local/${file.size}-${file.lastModified}/${file.name}`;
}

/** `tiny-00001-of-00002.gguf` -> `tiny.gguf`; other names unchanged. */
function ggufModelName(file: string): string {
  const base = file.split('/').pop() ?? file;
  return base.replace(/-\d{5}-of-\d{5}\.gguf$/i, '.gguf');
}

/** A folder's name for the UI; for Hub-style URLs (`/owner/name/resolve/rev/`), the repo. */
function folderName(folder: URL): string {
  const segments = folder.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const resolve = segments.indexOf('resolve');
  if (resolve >= 2) return `${segments[resolve - 2]}/${segments[resolve - 1]}`;
  return segments.at(-1) ?? folder.host;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LibraryError(`${where} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The shard file names of a model.safetensors.index.json (same folder only), sorted. */
function shardsOfIndex(index: unknown, where: string): string[] {
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new LibraryError(`${where} has no weight_map object`);
  }
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !/^[^/\\]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new LibraryError(`${where}: weight_map["${tensor}"] is not a .safetensors file in the same folder`);
    }
    shards.add(shard);
  }
  if (shards.size === 0) throw new LibraryError(`${where} lists no shards`);
  return [...shards].sort();
}

/** Safetensors models need config.json and tokenizer.json (the tokenizer is not in the weights). */
function requireTokenizerFiles(hasConfig: boolean, hasTokenizer: boolean, where: string): void {
  const missing = [!hasConfig && 'config.json', !hasTokenizer && 'tokenizer.json'].filter(Boolean);
  if (missing.length > 0) {
    throw new LibraryError(
      `${where} has no ${missing.join(' and ')}: a safetensors model needs both beside its weights (a tokenizer.model alone is not enough)`,
    );
  }
}

let defaultLibrary: ModelLibrary | null = null;
/** The app's library, opened on first use (importing this module must work where there is no IndexedDB). */
export function modelLibrary(): ModelLibrary {
  defaultLibrary ??= new ModelLibrary();
  return defaultLibrary;
}

export const listModels = () => modelLibrary().list();
export const getModel = (id: string) => modelLibrary().get(id);
export const deleteModel = (id: string) => modelLibrary().delete(id);
export const addHubModel = (source: HubModelSource, options?: AddModelOptions) => modelLibrary().addHubModel(source, options);
export const addUrlModel = (url: string, options?: AddModelOptions) => modelLibrary().addUrlModel(url, options);
export const addLocalFiles = (files: File[], options?: AddModelOptions & { name?: string }) => modelLibrary().addLocalFiles(files, options);
