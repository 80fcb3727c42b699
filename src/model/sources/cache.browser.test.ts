// Browser tests (Chromium, `gpu` project): the OPFS / Cache Storage model cache with IndexedDB records, and
// downloads from the local test server (e2e/file-server.ts) into the cache and GPU buffers at once, then
// loading the cached copy with the network off. In Node (the `unit` project also matches this file) they skip.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { testGpu } from '../../gpu/gpu.testing';
import { type CacheBackend, CacheSha256Error, ModelCache, checkQuota, streamFileCached } from './cache';
import { type Sha256Hasher, createSha256, isCancelled, streamFile } from './download';
import { resolveHubFiles } from './hub';
import type { TransferProgress } from './progress';
import { fixtureBytes, fixtureSafetensors } from './files.testing';
import { SafetensorsToGpu, TensorUploader } from './to-gpu';

const inBrowser = typeof window !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** The reference digest: crypto.subtle over the whole buffer (the code under test hashes incrementally). */
async function subtleSha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

async function emptyCache(cache: ModelCache): Promise<void> {
  for (const record of await cache.list()) await cache.delete(record.key);
  await cache.removeIncomplete();
}

describe.runIf(inBrowser).each<CacheBackend>(['opfs', 'cache-storage'])('ModelCache on %s', (backend) => {
  const cache = inBrowser ? new ModelCache({ backend, name: `test-models-${backend}`, database: `test-model-cache-${backend}` }) : null;
  // Counts the bytes its sha256 hashers see.
  let hashedBytes = 0;
  const countingHasher = (): Sha256Hasher => {
    const hasher = createSha256();
    return Object.assign(Object.create(hasher) as Sha256Hasher, {
      update(chunk: Uint8Array) {
        hashedBytes += chunk.length;
        hasher.update(chunk);
        return this;
      },
      digest: () => hasher.digest(),
    });
  };
  const countingCache = inBrowser
    ? new ModelCache({ backend, name: `test-models-counting-${backend}`, database: `test-model-cache-counting-${backend}`, createHasher: countingHasher })
    : null;
  const small = fixtureBytes(10_001, 1);
  const large = fixtureBytes(300_000, 2);

  beforeAll(async () => {
    await emptyCache(cache as ModelCache);
    await emptyCache(countingCache as ModelCache);
  });

  it('writes in chunks, lists, reads back, deletes', async () => {
    const c = cache as ModelCache;
    const smallSha = await subtleSha256(small);
    const writer = await c.write('org/m@main/small.bin', { repo: 'org/m', revision: 'main', path: 'small.bin', size: small.length });
    await writer.write(small.subarray(0, 4000));
    await writer.write(small.subarray(4000));
    const record = await writer.close({ sha256: smallSha });
    expect(record).toMatchObject({ key: 'org/m@main/small.bin', size: small.length, sha256: smallSha, repo: 'org/m', backend });

    const big = await c.write('https://example.test/large.bin', { url: 'https://example.test/large.bin' });
    for (let i = 0; i < large.length; i += 65_536) await big.write(large.subarray(i, i + 65_536));
    await big.close();

    const listed = await c.list();
    expect(listed.map((r) => [r.key, r.size]).sort()).toEqual([
      ['https://example.test/large.bin', large.length],
      ['org/m@main/small.bin', small.length],
    ]);
    expect(await c.has('org/m@main/small.bin')).toBe(true);
    expect(equalBytes(await readAll((await c.read('org/m@main/small.bin')) as ReadableStream<Uint8Array>), small)).toBe(true);
    expect(equalBytes(await readAll((await c.read('https://example.test/large.bin')) as ReadableStream<Uint8Array>), large)).toBe(true);

    await c.delete('org/m@main/small.bin');
    expect(await c.has('org/m@main/small.bin')).toBe(false);
    expect(await c.read('org/m@main/small.bin')).toBeNull();
    expect((await c.list()).map((r) => r.key)).toEqual(['https://example.test/large.bin']);
  });

  it('never lists a file whose write did not complete', async () => {
    const c = cache as ModelCache;
    const aborted = await c.write('aborted');
    await aborted.write(large.subarray(0, 100_000));
    await aborted.abort();
    const unfinished = await c.write('unfinished');
    await unfinished.write(large.subarray(0, 100_000));
    const short = await c.write('short', { size: large.length });
    await short.write(large.subarray(0, 1000));
    await expect(short.close()).rejects.toThrow(/got 1000 bytes, expected 300000/);
    // Rewriting a key drops its old copy from the listing until the new one completes.
    const rewritten = await c.write('https://example.test/large.bin');
    await rewritten.write(large.subarray(0, 10));

    const keys = (await c.list()).map((r) => r.key);
    for (const key of ['aborted', 'unfinished', 'short', 'https://example.test/large.bin']) {
      expect(keys).not.toContain(key);
      expect(await c.has(key)).toBe(false);
      expect(await c.read(key)).toBeNull();
    }
    await rewritten.abort();
    await unfinished.abort();
  });

  it('refuses an entry whose bytes do not hash to the expected sha256', async () => {
    const c = cache as ModelCache;
    const wrong = '0'.repeat(64);
    const given = await c.write('damaged');
    await given.write(small);
    await expect(given.close({ sha256: wrong })).rejects.toThrow(/"damaged": sha256 [0-9a-f]{64} does not match the expected 0{64}/);
    const announced = await c.write('damaged', { sha256: wrong });
    await announced.write(small);
    await expect(announced.close()).rejects.toThrow(CacheSha256Error);
    expect(await c.info('damaged')).toBeUndefined();
    expect(await c.has('damaged')).toBe(false);
    expect(await c.removeIncomplete()).toBe(0); // the stored bytes went with it
  });

  it('hashes a file once, as it enters; loads count its bytes without hashing', async () => {
    const c = countingCache as ModelCache;
    const key = 'org/m@main/verified.bin';
    const hashed = hashedBytes;
    const writer = await c.write(key, { size: large.length, sha256: await subtleSha256(large) });
    for (let i = 0; i < large.length; i += 4099) await writer.write(large.subarray(i, i + 4099));
    const record = await writer.close();
    expect(record).toMatchObject({ sha256: await subtleSha256(large), verified: true });
    expect(hashedBytes - hashed).toBe(large.length); // one pass, during the write
    for (let load = 0; load < 2; load++) {
      expect(equalBytes(await readAll((await c.read(key)) as ReadableStream<Uint8Array>), large)).toBe(true);
    }
    expect(hashedBytes - hashed).toBe(large.length);
  });

  it('verifies a record from before entries were hashed on its next load, once, and catches a corrupted copy', async () => {
    const c = countingCache as ModelCache;
    const key = 'org/m@main/corrupted.bin';
    const writer = await c.write(key, { size: large.length });
    for (let i = 0; i < large.length; i += 4099) await writer.write(large.subarray(i, i + 4099));
    await writer.close();
    await c.markUnverified(key); // as such a record has no flag
    expect((await c.info(key))?.verified).toBeUndefined();
    let hashed = hashedBytes;
    expect(equalBytes(await readAll((await c.read(key)) as ReadableStream<Uint8Array>), large)).toBe(true);
    expect(hashedBytes - hashed).toBe(large.length);
    expect(await c.info(key)).toMatchObject({ sha256: await subtleSha256(large), verified: true });
    hashed = hashedBytes;
    await readAll((await c.read(key)) as ReadableStream<Uint8Array>);
    expect(hashedBytes).toBe(hashed);

    // Flip one byte of the stored file, far into it (in a later chunk of the read); the size stays right.
    const corrupted = large.slice();
    corrupted[250_000] ^= 0x40;
    const storedName = `${await subtleSha256(new TextEncoder().encode(key))}.bin`;
    const folder = `test-models-counting-${backend}`;
    if (backend === 'opfs') {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
      const writable = await (await dir.getFileHandle(storedName)).createWritable({ keepExistingData: true });
      await writable.write({ type: 'write', position: 250_000, data: corrupted.subarray(250_000, 250_001) });
      await writable.close();
    } else {
      const storage = await caches.open(folder);
      const request = (await storage.keys()).find((r) => r.url.endsWith(`/${storedName}`));
      expect(request).toBeDefined();
      await storage.put(request as Request, new Response(corrupted));
    }
    expect(await c.has(key)).toBe(true); // the size still matches: only hashing the bytes can tell
    await c.markUnverified(key);
    const stream = (await c.read(key)) as ReadableStream<Uint8Array>;
    await expect(readAll(stream)).rejects.toThrow(/is damaged \(sha256 mismatch\) and was removed/);
    expect(await c.has(key)).toBe(false);
    expect(await c.read(key)).toBeNull();
  });
});

describe.runIf(inBrowser)('checkQuota', () => {
  it('compares the bytes needed with what this site may still store', async () => {
    const fits = await checkQuota(1024);
    expect(fits.ok).toBe(true);
    expect(fits.available).toBeGreaterThan(1024);
    const tooMuch = await checkQuota(1e18);
    expect(tooMuch.ok).toBe(false);
    expect(tooMuch.message).toMatch(/needs .* of browser storage, but only .* is free/);
    const nearlyFull = { estimate: async () => ({ quota: 100, usage: 60 }) } as unknown as StorageManager;
    expect(await checkQuota(40, nearlyFull)).toEqual({ ok: true, available: 40 });
    expect((await checkQuota(41, nearlyFull)).ok).toBe(false);
  });
});

describe.runIf(inBrowser)('download into the GPU and the cache, then offline', () => {
  const server = inject('fileServerUrl');
  const deadUrl = inject('deadUrl');
  const model = fixtureSafetensors();
  const cache = inBrowser ? new ModelCache({ name: 'test-downloads', database: 'test-download-cache' }) : null;

  beforeAll(async () => {
    await emptyCache(cache as ModelCache);
  });

  /** The server's log of requests for `path`. */
  async function requestsTo(path: string): Promise<{ method: string; range?: string; authorization?: string }[]> {
    const log = (await (await fetch(`${server}/__requests`)).json()) as { method: string; path: string; range?: string }[];
    return log.filter((r) => r.path === path && r.method === 'GET');
  }

  /** Streams the model into GPU buffers (one per tensor) and checks them against the file. */
  async function loadIntoGpu(url: string, fetchFn?: typeof fetch, progress?: TransferProgress[]) {
    const gpu = await testGpu();
    const loader = new SafetensorsToGpu(gpu, model.length);
    try {
      const result = await streamFileCached({
        url,
        key: 'tiny-model/model.safetensors',
        meta: { repo: 'tiny-model', path: 'model.safetensors' },
        cache: cache as ModelCache,
        expectedSize: model.length,
        retryDelayMs: 10,
        fetch: fetchFn,
        onProgress: (p) => progress?.push(p),
        onChunk: (chunk, offset) => loader.push(chunk, offset),
      });
      const { header, buffers } = await loader.finish();
      for (const [name, info] of header.tensors) {
        const bytes = info.end - info.begin;
        const read = await gpu.read(buffers.get(name) as GPUBuffer, Math.max(4, Math.ceil(bytes / 4) * 4));
        const want = model.subarray(header.dataOffset + info.begin, header.dataOffset + info.end);
        expect(equalBytes(new Uint8Array(read).subarray(0, bytes), want), name).toBe(true);
      }
      return result;
    } finally {
      loader.abort(); // frees the buffers
    }
  }

  it('downloads across a dropped connection (Range resume, CORS) into GPU buffers and the cache', async () => {
    const progress: TransferProgress[] = [];
    const result = await loadIntoGpu(`${server}/flaky/model.safetensors`, undefined, progress);
    expect(result).toMatchObject({ size: model.length, fromCache: false, sha256: await subtleSha256(model) });
    expect(progress.at(-1)).toMatchObject({ loaded: model.length, total: model.length });
    for (let i = 1; i < progress.length; i++) expect(progress[i].loaded).toBeGreaterThanOrEqual(progress[i - 1].loaded);
    // Fresh requests always drop: it can only have finished with a Range request. (Chromium may drop the
    // bytes before a failure, so a retry can still start from 0.)
    const requests = await requestsTo('/flaky/model.safetensors');
    expect(requests[0].range).toBeUndefined();
    expect(requests.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
    const [record] = await (cache as ModelCache).list();
    expect(record).toMatchObject({ key: 'tiny-model/model.safetensors', size: model.length, url: `${server}/flaky/model.safetensors` });
  });

  it('loads the cached copy with the network off', async () => {
    const offline = await loadIntoGpu(`${deadUrl}/model.safetensors`);
    expect(offline).toMatchObject({ size: model.length, fromCache: true });
    let fetches = 0;
    const noNetwork: typeof fetch = () => {
      fetches += 1;
      return Promise.reject(new TypeError('Failed to fetch'));
    };
    expect(await loadIntoGpu(`${server}/model.safetensors`, noNetwork)).toMatchObject({ fromCache: true });
    expect(fetches).toBe(0);
    // A cached copy of another size than expected is stale: it is not used.
    const stale = streamFileCached({
      url: `${deadUrl}/model.safetensors`,
      key: 'tiny-model/model.safetensors',
      cache: cache as ModelCache,
      expectedSize: model.length + 1,
      maxRetries: 1,
      retryDelayMs: 1,
      onChunk: () => {},
    });
    await expect(stale).rejects.toThrow(/could not connect/);
  });

  it('fails clearly when the network is off and nothing is cached', async () => {
    await (cache as ModelCache).delete('tiny-model/model.safetensors');
    await expect(loadIntoGpu(`${deadUrl}/model.safetensors`)).rejects.toThrow(/could not connect.*gave up/);
    expect(await (cache as ModelCache).list()).toEqual([]);
  });

  it('resumes from a server that ignores Range by skipping the bytes it has', async () => {
    const result = await streamFile({
      url: `${server}/no-ranges/model.safetensors`,
      computeSha256: true,
      retryDelayMs: 10,
      onChunk: (chunk, offset) => {
        expect(equalBytes(chunk, model.subarray(offset, offset + chunk.length))).toBe(true);
      },
    });
    expect(result).toEqual({ size: model.length, sha256: await subtleSha256(model) });
    const requests = await requestsTo('/no-ranges/model.safetensors');
    expect(requests[0].range).toBeUndefined();
    expect(requests.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('cancels mid-download: AbortError, nothing cached, GPU buffers freed', async () => {
    const gpu = await testGpu();
    const before = gpu.allocatedBytes;
    const body = fixtureBytes(400_000, 3);
    const buffer = gpu.buffer('slow', body.length);
    const uploader = new TensorUploader(gpu, [{ name: 'slow', begin: 0, end: body.length, buffer, bufferOffset: 0 }]);
    const controller = new AbortController();
    let received = 0;
    const run = streamFileCached({
      url: `${server}/slow.bin`,
      key: 'slow.bin',
      cache: cache as ModelCache,
      signal: controller.signal,
      onChunk: async (chunk, offset) => {
        await uploader.push(chunk, offset);
        received += chunk.length;
        if (received > 50_000) controller.abort();
      },
    });
    const error = await run.catch((e: unknown) => e);
    uploader.abort();
    expect(isCancelled(error)).toBe(true);
    expect((error as Error).message).toBe('download cancelled');
    expect(received).toBeLessThan(body.length);
    expect(await (cache as ModelCache).has('slow.bin')).toBe(false);
    expect(gpu.allocatedBytes).toBe(before);
  });

  it('resolves a model on a fake Hub from the page and downloads it through the CDN redirect', async () => {
    const resolved = await resolveHubFiles({ repo: 'test-org/tiny-model', endpoint: inject('fakeHubUrl') });
    expect(resolved.format).toBe('safetensors');
    expect(resolved.weights.map((w) => [w.path, w.size])).toEqual([['model.safetensors', model.length]]);
    expect(resolved.config?.path).toBe('config.json');
    expect(resolved.tokenizer).toBeUndefined();
    const [weights] = resolved.weights;
    const result = await streamFile({ url: weights.url, expectedSize: weights.size, computeSha256: true, onChunk: () => {} });
    expect(result).toEqual({ size: model.length, sha256: await subtleSha256(model) });
  });

  it('sends the token to a gated repo (CORS preflight, then a redirect to the CDN) and explains a 401', async () => {
    const endpoint = inject('fakeHubUrl');
    await expect(resolveHubFiles({ repo: 'test-org/gated-model', endpoint })).rejects.toThrow(
      /HTTP 401: gated or private repo: log in and accept the license, then give a token/,
    );
    const token = 'hf_browser_test';
    const resolved = await resolveHubFiles({ repo: 'test-org/gated-model', endpoint, token });
    const [weights] = resolved.weights;
    const gatedModel = fixtureSafetensors(8);
    expect(weights.size).toBe(gatedModel.length);
    const result = await streamFile({ url: weights.url, token, expectedSize: weights.size, computeSha256: true, onChunk: () => {} });
    expect(result.sha256).toBe(await subtleSha256(gatedModel));
    await expect(streamFile({ url: weights.url, onChunk: () => {} })).rejects.toThrow(/HTTP 401: gated or private repo/);
  });
});
