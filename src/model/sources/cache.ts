// A persistent browser cache of downloaded model files, for offline use. File bytes live in the Origin
// Private File System (streamed writes through createWritable) or, where that is missing, in Cache Storage;
// each complete file has a metadata record in IndexedDB. The record is written last, after the bytes are
// committed and their size checked, so a download that did not complete is never listed as cached. A file's
// sha256 is computed once, as it is written (and checked against the expected one); later reads only count bytes.
import { type UseStore, createStore, del, entries, get, set } from 'idb-keyval';
import { formatBytes } from '../../util/format';
import { type Sha256Hasher, type StreamFileOptions, createSha256, hexOfDigest, sha256Hex, streamFile } from './download';
import { streamReadable } from './local';

export type CacheBackend = 'opfs' | 'cache-storage';

export interface CachedFile {
  key: string;
  size: number;
  /** Lowercase hex of the stored bytes, hashed as they were written (and equal to the expected one, when given). */
  sha256?: string;
  /**
   * The stored bytes were hashed and matched `sha256`: when the file entered the cache, or on the first read of
   * a record written before entries were hashed. Reads of a verified file check only the byte count.
   */
  verified?: boolean;
  url?: string;
  repo?: string;
  revision?: string;
  /** Path in the repo. */
  path?: string;
  /** Date.now() when the file was completed. */
  savedAt: number;
  backend: CacheBackend;
}

/** What the caller knows before writing; `size` and `sha256`, when given, are checked on close (the entry is refused). */
export interface CacheWriteMeta {
  url?: string;
  repo?: string;
  revision?: string;
  path?: string;
  size?: number;
  sha256?: string;
}

/** Takes a file's chunks in order; nothing is listed as cached until close() succeeds. */
export interface CacheWriter {
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Commits the file, checks its size and the sha256 of what was written against the meta's and `sha256` (a
   * digest the caller expects, when given), and records it as verified. On a mismatch nothing is cached.
   */
  close(final?: { sha256?: string }): Promise<CachedFile>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

export interface ModelCacheOptions {
  /** Default: OPFS where it has writable streams, else Cache Storage. */
  backend?: CacheBackend;
  /** OPFS folder and Cache Storage name. Default 'manyicl-models'. */
  name?: string;
  /** IndexedDB database of the metadata (store 'files'). Default 'manyicl-model-cache'. */
  database?: string;
  /** Makes the sha256 hashers of writes and of first reads of unverified records (tests count them). */
  createHasher?: () => Sha256Hasher;
}

export class CacheError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CacheError';
  }
}

/** The bytes written do not hash to the sha256 expected of them: the entry was refused. */
export class CacheSha256Error extends CacheError {
  constructor(message: string) {
    super(message);
    this.name = 'CacheSha256Error';
  }
}

/** True where OPFS files can be written as streams (Chromium, Firefox; Safari only in workers, not here). */
export function opfsWritable(): boolean {
  const storage = globalThis.navigator?.storage;
  return (
    typeof storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    'createWritable' in FileSystemFileHandle.prototype
  );
}

const CACHE_URL_BASE = 'https://manyicl-model-cache.invalid/';

export class ModelCache {
  readonly backend: CacheBackend;
  private readonly name: string;
  private readonly meta: UseStore;
  private readonly createHasher: () => Sha256Hasher;

  constructor(options: ModelCacheOptions = {}) {
    this.createHasher = options.createHasher ?? createSha256;
    this.backend = options.backend ?? (opfsWritable() ? 'opfs' : 'cache-storage');
    this.name = options.name ?? 'manyicl-models';
    this.meta = createStore(options.database ?? 'manyicl-model-cache', 'files');
  }

  /** True when the key has a complete file whose stored size matches its record. */
  async has(key: string): Promise<boolean> {
    const record = await get<CachedFile>(key, this.meta);
    return record !== undefined && (await this.storedSize(record)) === record.size;
  }

  /**
   * The cached file as a stream, or null when absent or damaged (then the entry is removed). The stream checks
   * the byte count and errors on a mismatch. A record not yet verified (written before entries were hashed) is
   * hashed on this read: checked against its sha256 (or given one, when it has none) and marked verified.
   */
  async read(key: string): Promise<ReadableStream<Uint8Array> | null> {
    const record = await get<CachedFile>(key, this.meta);
    if (!record) return null;
    const body = await this.openStored(record);
    if (!body) {
      await this.delete(key);
      return null;
    }
    return body.pipeThrough(this.verifier(record));
  }

  /**
   * The cached file as a Blob for reading by range (Blob.slice), or null when absent or damaged. Unlike `read`,
   * nothing checks the sha256: the size is checked against the record.
   */
  async blob(key: string): Promise<Blob | null> {
    const record = await get<CachedFile>(key, this.meta);
    if (!record) return null;
    const name = storedName(record.key);
    let blob: Blob | null = null;
    if (this.backend === 'opfs') {
      try {
        blob = await (await (await this.opfsDir()).getFileHandle(name)).getFile();
      } catch {
        blob = null;
      }
    } else {
      const response = await (await caches.open(this.name)).match(CACHE_URL_BASE + name);
      blob = response ? await response.blob() : null;
    }
    return blob && blob.size === record.size ? blob : null;
  }

  /** The record of a complete file. */
  async info(key: string): Promise<CachedFile | undefined> {
    return get<CachedFile>(key, this.meta);
  }

  async write(key: string, meta: CacheWriteMeta = {}): Promise<CacheWriter> {
    await del(key, this.meta); // an older copy stops counting as cached from now on
    const sink = this.backend === 'opfs' ? await this.opfsSink(key) : await this.cacheStorageSink(key);
    let written = 0;
    let finished = false;
    const hasher = this.createHasher(); // the same pass as the write: the bytes are verified once, here
    return {
      write: async (chunk) => {
        if (finished) throw new CacheError(`cache write of "${key}": write after close or abort`);
        try {
          await sink.write(chunk);
          hasher.update(chunk);
        } catch (error) {
          throw new CacheError(`could not store "${key}" in the browser cache: ${(error as Error).message}`, { cause: error });
        }
        written += chunk.length;
      },
      close: async (final = {}) => {
        if (finished) throw new CacheError(`cache write of "${key}": closed twice or after abort`);
        finished = true;
        try {
          await sink.close();
          if (meta.size !== undefined && written !== meta.size) {
            throw new CacheError(`"${key}": got ${written} bytes, expected ${meta.size}`);
          }
          const stored = await this.storedSizeOf(key);
          if (stored !== undefined && stored !== written) {
            throw new CacheError(`"${key}": stored ${stored} bytes, wrote ${written}`);
          }
          const sha256 = hexOfDigest(hasher.digest());
          for (const expected of [meta.sha256?.toLowerCase(), final.sha256?.toLowerCase()]) {
            if (expected && expected !== sha256) throw new CacheSha256Error(`"${key}": sha256 ${sha256} does not match the expected ${expected}`);
          }
          const record: CachedFile = {
            key,
            size: written,
            savedAt: Date.now(),
            backend: this.backend,
            sha256,
            verified: true,
            ...(meta.url && { url: meta.url }),
            ...(meta.repo && { repo: meta.repo }),
            ...(meta.revision && { revision: meta.revision }),
            ...(meta.path && { path: meta.path }),
          };
          await set(key, record, this.meta);
          return record;
        } catch (error) {
          await this.removeStored(key).catch(() => {});
          throw error;
        }
      },
      abort: async () => {
        if (finished) return;
        finished = true;
        await sink.abort().catch(() => {});
        await this.removeStored(key).catch(() => {});
      },
    };
  }

  /** Drops a record's verified flag, as records written before entries were hashed have none: its next read hashes it. */
  async markUnverified(key: string): Promise<void> {
    const record = await get<CachedFile>(key, this.meta);
    if (record?.verified) await set(key, { ...record, verified: undefined }, this.meta);
  }

  /** Complete files, newest first. */
  async list(): Promise<CachedFile[]> {
    const all = await entries<string, CachedFile>(this.meta);
    return all.map(([, record]) => record).sort((a, b) => b.savedAt - a.savedAt);
  }

  async delete(key: string): Promise<void> {
    await del(key, this.meta);
    await this.removeStored(key);
  }

  /** Stored files with no record (left by a crash mid-download); returns how many were removed. */
  async removeIncomplete(): Promise<number> {
    const known = new Set((await this.list()).map((r) => storedName(r.key)));
    let removed = 0;
    if (this.backend === 'opfs') {
      const dir = await this.opfsDir();
      const names: string[] = [];
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
      for (const name of names) {
        if (known.has(name)) continue;
        await dir.removeEntry(name).catch(() => {});
        removed += 1;
      }
    } else {
      const cache = await caches.open(this.name);
      for (const request of await cache.keys()) {
        if (known.has(request.url.slice(CACHE_URL_BASE.length))) continue;
        await cache.delete(request);
        removed += 1;
      }
    }
    return removed;
  }

  private async opfsDir(): Promise<FileSystemDirectoryHandle> {
    const root = await navigator.storage.getDirectory();
    return root.getDirectoryHandle(this.name, { create: true });
  }

  private async opfsSink(key: string) {
    const dir = await this.opfsDir();
    const handle = await dir.getFileHandle(storedName(key), { create: true });
    const writable = await handle.createWritable();
    return {
      write: (chunk: Uint8Array) => writable.write(chunk as Uint8Array<ArrayBuffer>),
      close: () => writable.close(),
      abort: () => writable.abort(),
    };
  }

  private async cacheStorageSink(key: string) {
    const cache = await caches.open(this.name);
    const request = new Request(CACHE_URL_BASE + storedName(key));
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const stored = cache.put(request, new Response(readable, { headers: { 'content-type': 'application/octet-stream' } }));
    stored.catch(() => {}); // a failed put (quota) cancels `readable`, which fails the pending write
    return {
      write: async (chunk: Uint8Array) => {
        await writer.ready;
        await writer.write(chunk);
      },
      close: async () => {
        await writer.close();
        await stored;
      },
      abort: async () => {
        await writer.abort(new CacheError('cancelled')).catch(() => {});
        await stored.catch(() => {});
        await cache.delete(request);
      },
    };
  }

  /** The stored bytes of a record's file, or null when missing. */
  private async openStored(record: CachedFile): Promise<ReadableStream<Uint8Array> | null> {
    const name = storedName(record.key);
    if (this.backend === 'opfs') {
      try {
        const file = await (await (await this.opfsDir()).getFileHandle(name)).getFile();
        return file.size === record.size ? file.stream() : null;
      } catch {
        return null;
      }
    }
    const response = await (await caches.open(this.name)).match(CACHE_URL_BASE + name);
    return response?.body ?? null;
  }

  private async storedSize(record: CachedFile): Promise<number | undefined> {
    if (this.backend === 'opfs') return this.storedSizeOf(record.key);
    // Cache Storage gives no size without reading: trust the record when the entry exists.
    const response = await (await caches.open(this.name)).match(CACHE_URL_BASE + storedName(record.key));
    if (!response) return undefined;
    void response.body?.cancel().catch(() => {});
    return record.size;
  }

  /** OPFS: the file's size; Cache Storage: undefined (unknown without reading). */
  private async storedSizeOf(key: string): Promise<number | undefined> {
    if (this.backend !== 'opfs') return undefined;
    try {
      return (await (await (await this.opfsDir()).getFileHandle(storedName(key))).getFile()).size;
    } catch {
      return undefined;
    }
  }

  private async removeStored(key: string): Promise<void> {
    const name = storedName(key);
    if (this.backend === 'opfs') {
      await (await this.opfsDir()).removeEntry(name).catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'NotFoundError') throw error;
      });
    } else {
      await (await caches.open(this.name)).delete(CACHE_URL_BASE + name);
    }
  }

  /**
   * Passes bytes through; errors the stream (and drops the entry) when the count is wrong. Hashes only a record
   * not yet verified: a mismatch with its sha256 errors too, a match (or a first digest) marks it verified.
   */
  private verifier(record: CachedFile): TransformStream<Uint8Array, Uint8Array> {
    let count = 0;
    const hasher = record.verified ? null : this.createHasher();
    const fail = async (controller: TransformStreamDefaultController<Uint8Array>, problem: string) => {
      await this.delete(record.key).catch(() => {});
      controller.error(new CacheError(`the cached copy of "${record.key}" is damaged (${problem}) and was removed; download it again`));
    };
    return new TransformStream<Uint8Array, Uint8Array>({
      transform: async (chunk, controller) => {
        count += chunk.length;
        if (count > record.size) return fail(controller, `more than ${record.size} bytes`);
        hasher?.update(chunk);
        controller.enqueue(chunk);
      },
      flush: async (controller) => {
        if (count !== record.size) return fail(controller, `${count} bytes, expected ${record.size}`);
        if (!hasher) return;
        const sha256 = hexOfDigest(hasher.digest());
        if (record.sha256 !== undefined && sha256 !== record.sha256) return fail(controller, 'sha256 mismatch');
        // Unless the record changed meanwhile (a new copy being written, or deleted).
        const current = await get<CachedFile>(record.key, this.meta);
        if (current?.savedAt === record.savedAt) await set(record.key, { ...current, sha256, verified: true }, this.meta);
      },
    });
  }
}

/** The stored file's name: the key's sha256, so that any key is a valid, fixed-length name. */
function storedName(key: string): string {
  return `${sha256Hex(new TextEncoder().encode(key))}.bin`;
}

let defaultCache: ModelCache | null = null;
/** The app's cache, opened on first use (importing this module must work where there is no IndexedDB). */
export function modelCache(): ModelCache {
  defaultCache ??= new ModelCache();
  return defaultCache;
}

export const cacheHas = (key: string) => modelCache().has(key);
export const cacheRead = (key: string) => modelCache().read(key);
export const cacheWrite = (key: string, meta?: CacheWriteMeta) => modelCache().write(key, meta);
export const cacheList = () => modelCache().list();
export const cacheDelete = (key: string) => modelCache().delete(key);

export interface QuotaCheck {
  ok: boolean;
  /** Bytes this site may still store (Infinity when the browser does not say). */
  available: number;
  message?: string;
}

/** Whether `bytesNeeded` more bytes fit in this site's browser storage (navigator.storage.estimate()). */
export async function checkQuota(bytesNeeded: number, storage: StorageManager | undefined = globalThis.navigator?.storage): Promise<QuotaCheck> {
  const estimate = await storage?.estimate?.().catch(() => undefined);
  if (!estimate || estimate.quota === undefined) {
    return { ok: true, available: Infinity, message: 'this browser does not report its storage quota' };
  }
  const available = Math.max(0, estimate.quota - (estimate.usage ?? 0));
  if (bytesNeeded <= available) return { ok: true, available };
  return {
    ok: false,
    available,
    message:
      `the model needs ${formatBytes(bytesNeeded)} of browser storage, but only ${formatBytes(available)} is free ` +
      'for this site: delete cached models, free disk space, or load the model without caching it',
  };
}

/** Asks the browser not to evict the cache under storage pressure; true when granted. */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = globalThis.navigator?.storage;
  if (!storage?.persist) return false;
  return (await storage.persisted?.()) || storage.persist();
}

export interface StreamCachedOptions extends StreamFileOptions {
  key: string;
  meta?: Omit<CacheWriteMeta, 'url' | 'size' | 'sha256'>;
  cache?: ModelCache;
  /** The cache could not store the file (quota, ...): the download goes on without it. */
  onCacheError?: (error: Error) => void;
}

/**
 * Streams a file from the cache when it holds a complete copy (no network), else downloads it and stores it
 * on the way (the chunks go to onChunk and to the cache at the same time).
 */
export async function streamFileCached(options: StreamCachedOptions): Promise<{ size: number; sha256?: string; fromCache: boolean }> {
  const cache = options.cache ?? modelCache();
  const { key, onCacheError } = options;
  const record = await cache.info(key);
  // A copy that differs from what the caller expects is stale (the file changed upstream): download again.
  const stale =
    record !== undefined &&
    ((options.expectedSize !== undefined && record.size !== options.expectedSize) ||
      (options.expectedSha256 !== undefined && record.sha256 !== undefined && record.sha256 !== options.expectedSha256.toLowerCase()));
  const cached = record && !stale ? await cache.read(key) : null;
  if (record && cached) {
    // The file was hashed when it entered the cache (or is, by this read, when its record is older).
    const result = await streamReadable({ ...options, computeSha256: false, stream: cached, size: record.size });
    return { size: result.size, sha256: (await cache.info(key))?.sha256 ?? record.sha256, fromCache: true };
  }

  const meta: CacheWriteMeta = { ...options.meta, url: options.url, size: options.expectedSize, sha256: options.expectedSha256 };
  let writer: CacheWriter | null = null;
  try {
    writer = await cache.write(key, meta);
  } catch (error) {
    onCacheError?.(error as Error);
  }
  // The cache writer hashes the bytes and checks the expected sha256; the download hashes them only without one.
  // (A cache write that fails midway leaves that download checked by its size alone.)
  const cachedWrite = writer !== null;
  try {
    const result = await streamFile({
      ...options,
      computeSha256: cachedWrite ? false : options.computeSha256,
      expectedSha256: cachedWrite ? undefined : options.expectedSha256,
      onChunk: async (chunk, offset) => {
        await options.onChunk(chunk, offset);
        if (!writer) return;
        try {
          await writer.write(chunk);
        } catch (error) {
          const failed = writer;
          writer = null;
          await failed.abort();
          onCacheError?.(error as Error);
        }
      },
    });
    if (writer) {
      const committing = writer;
      writer = null;
      const stored = await committing.close().catch((error: Error) => {
        if (error instanceof CacheSha256Error) throw error; // the download itself is wrong
        onCacheError?.(error);
        return null;
      });
      if (stored) return { size: result.size, sha256: stored.sha256, fromCache: false };
    }
    return { ...result, fromCache: false };
  } catch (error) {
    await writer?.abort();
    throw error;
  }
}
