// Browser tests (Chromium, `gpu` project) of the model library: models added from the local test server
// (e2e/file-server.ts: /library/* folders and a fake Hub), from File objects, into a throwaway OPFS cache
// with manifests in a throwaway IndexedDB database. In Node (the `unit` project also matches this file) they skip.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { CacheError, ModelCache } from './cache';
import { isCancelled } from './download';
import { type AddModelProgress, type CachedModel, ModelLibrary } from './library';
import {
  FIXTURE_CONFIG_JSON,
  FIXTURE_TOKENIZER_JSON,
  fixtureGguf,
  fixtureSafetensorsFolder,
  fixtureShardedFolder,
  fixtureSplitGguf,
} from './library.testing';

const inBrowser = typeof window !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';

const encode = (content: Uint8Array | string) =>
  (typeof content === 'string' ? new TextEncoder().encode(content) : content) as Uint8Array<ArrayBuffer>;
const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

describe.runIf(inBrowser)('ModelLibrary', () => {
  const server = inject('fileServerUrl');
  const hub = inject('fakeHubUrl');
  const cache = inBrowser ? new ModelCache({ backend: 'opfs', name: 'test-library', database: 'test-library-cache' }) : (null as never);
  const library = inBrowser ? new ModelLibrary({ cache, database: 'test-library-models', retryDelayMs: 10 }) : (null as never);

  beforeEach(async () => {
    for (const model of await library.list()) await library.delete(model.id);
    for (const record of await cache.list()) await cache.delete(record.key);
    await cache.removeIncomplete();
  });

  async function cachedBytes(key: string): Promise<Uint8Array> {
    const stream = await cache.read(key);
    if (!stream) throw new Error(`${key} is not cached`);
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  /** Checks that every file of the model is cached with the bytes of `files` (by file name). */
  async function expectCachedFiles(model: CachedModel, files: Record<string, Uint8Array | string>) {
    const keys = [...model.weights, model.config, model.tokenizer, model.tokenizerConfig].filter((k) => k !== undefined);
    let total = 0;
    for (const key of keys) {
      const name = decodeURIComponent(key.split('/').pop() as string);
      const want = encode(files[name]);
      expect(want, name).toBeDefined();
      expect(equalBytes(await cachedBytes(key), want), name).toBe(true);
      total += want.length;
    }
    expect(model.bytes).toBe(total);
  }

  async function getRequests(path: string): Promise<{ method: string; range?: string; authorization?: string }[]> {
    const log = (await (await fetch(`${server}/__requests`)).json()) as { method: string; path: string }[];
    return log.filter((r) => r.path === path && r.method === 'GET');
  }

  it('adds a GGUF by URL with progress, and does not fetch it again', async () => {
    const url = `${server}/library/tiny.gguf`;
    const gguf = fixtureGguf(11);
    const progress: AddModelProgress[] = [];
    const model = await library.addUrlModel(url, { onProgress: (p) => progress.push(p) });
    expect(model).toMatchObject({ name: 'tiny.gguf', format: 'gguf', origin: { kind: 'url', url }, weights: [url], bytes: gguf.length });
    expect(model.config).toBeUndefined();
    expect(model.tokenizer).toBeUndefined();
    await expectCachedFiles(model, { 'tiny.gguf': gguf });
    expect(progress.at(-1)).toMatchObject({ loaded: gguf.length, total: gguf.length, etaSeconds: 0, file: 'tiny.gguf', fileIndex: 1, fileCount: 1 });
    expect(await library.get(model.id)).toEqual(model);
    expect((await library.list()).map((m) => m.id)).toEqual([model.id]);
    expect((await cache.info(url))?.sha256).toBe(await sha256(gguf));

    const gets = (await getRequests('/library/tiny.gguf')).length;
    const again = await library.addUrlModel(url);
    expect(again.id).toBe(model.id);
    expect((await getRequests('/library/tiny.gguf')).length).toBe(gets);
    expect(await library.list()).toHaveLength(1);
  });

  it('finds every part of a split GGUF from any part', async () => {
    const parts = fixtureSplitGguf();
    const model = await library.addUrlModel(`${server}/library/split/tiny-00002-of-00002.gguf`);
    expect(model.name).toBe('tiny.gguf');
    expect(model.weights).toEqual([`${server}/library/split/tiny-00001-of-00002.gguf`, `${server}/library/split/tiny-00002-of-00002.gguf`]);
    await expectCachedFiles(model, parts);
  });

  it('adds a safetensors folder by URL: weights, config, tokenizer and tokenizer config', async () => {
    const folder = fixtureSafetensorsFolder(12);
    const model = await library.addUrlModel(`${server}/library/safetensors/model.safetensors`);
    expect(model).toMatchObject({
      name: 'safetensors',
      format: 'safetensors',
      weights: [`${server}/library/safetensors/model.safetensors`],
      config: `${server}/library/safetensors/config.json`,
      tokenizer: `${server}/library/safetensors/tokenizer.json`,
      tokenizerConfig: `${server}/library/safetensors/tokenizer_config.json`,
    });
    await expectCachedFiles(model, folder);
  });

  it('adds sharded safetensors by their index, or by the folder URL', async () => {
    const folder = fixtureShardedFolder();
    const byIndex = await library.addUrlModel(`${server}/library/sharded/model.safetensors.index.json`);
    expect(byIndex.weights).toEqual([
      `${server}/library/sharded/model-00001-of-00002.safetensors`,
      `${server}/library/sharded/model-00002-of-00002.safetensors`,
    ]);
    expect(byIndex.tokenizerConfig).toBeUndefined();
    await expectCachedFiles(byIndex, folder);
    const byFolder = await library.addUrlModel(`${server}/library/sharded/`);
    expect(byFolder.weights).toEqual(byIndex.weights);
    expect(byFolder.id).not.toBe(byIndex.id);
  });

  it('resumes a download whose connection drops (Range requests)', async () => {
    const model = await library.addUrlModel(`${server}/library/flaky/model.safetensors`);
    await expectCachedFiles(model, fixtureSafetensorsFolder(13));
    const requests = await getRequests('/library/flaky/model.safetensors');
    expect(requests[0].range).toBeUndefined();
    expect(requests.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('explains URLs it cannot use, and folders without a tokenizer', async () => {
    await expect(library.addUrlModel('not a url')).rejects.toThrow(/"not a url" is not a URL/);
    await expect(library.addUrlModel(`${server}/library/readme.txt`)).rejects.toThrow(/expected a URL to a \.gguf file/);
    await expect(library.addUrlModel(`${server}/library/missing.gguf`)).rejects.toThrow(/the GGUF file not found: .*missing\.gguf \(HTTP 404\)/);
    // The browser tests' plain /model.safetensors has no config.json nor tokenizer.json beside it.
    await expect(library.addUrlModel(`${server}/model.safetensors`)).rejects.toThrow(/has no config\.json and tokenizer\.json/);
    await expect(library.addUrlModel(`${inject('deadUrl')}/m.gguf`)).rejects.toThrow(/could not reach .*m\.gguf/);
    expect(await library.list()).toEqual([]);
    expect(await cache.list()).toEqual([]);
  });

  it('says that the storage is full when a write fails mid-download, and keeps what was saved', async () => {
    // The quota error as the OPFS sink gives it (cache.ts wraps it): Chromium's quota override does not reach
    // this test frame (see src/train/checkpoints.browser.test.ts), so the weights' writer fails here instead.
    class FullCache extends ModelCache {
      override async write(key: string, meta?: Parameters<ModelCache['write']>[1]) {
        const writer = await super.write(key, meta);
        if (!key.endsWith('.safetensors')) return writer;
        const quota = new DOMException('The operation failed because it would cause the application to exceed its storage quota.', 'QuotaExceededError');
        return { ...writer, write: async () => Promise.reject(new CacheError(`could not store "${key}" in the browser cache: ${quota.message}`, { cause: quota })) };
      }
    }
    const full = new ModelLibrary({ cache: new FullCache({ backend: 'opfs', name: 'test-library', database: 'test-library-cache' }), database: 'test-library-models' });
    const error = (await full.addHubModel({ repo: 'test-org/library-model', endpoint: hub }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(
      /^The browser's storage is full: test-org\/library-model could not be saved \(\d+\.\d MiB of \d+\.\d MiB were saved when writing model\.safetensors failed\)\. Free space \(delete cached models or runs\) and add it again\. The files saved so far are kept/,
    );
    expect(await library.list()).toEqual([]);
    expect(await cache.has(`${hub}/test-org/library-model/resolve/main/config.json`)).toBe(true);
    expect(await cache.has(`${hub}/test-org/library-model/resolve/main/model.safetensors`)).toBe(false);
  });

  it('adds a safetensors model from the Hub and checks the Hub sha256', async () => {
    const folder = fixtureSafetensorsFolder(15);
    const model = await library.addHubModel({ repo: 'test-org/library-model', endpoint: hub });
    expect(model).toMatchObject({
      name: 'test-org/library-model',
      format: 'safetensors',
      origin: { kind: 'hub', repo: 'test-org/library-model', revision: 'main', endpoint: hub },
      weights: [`${hub}/test-org/library-model/resolve/main/model.safetensors`],
    });
    await expectCachedFiles(model, folder);
    const weights = await cache.info(model.weights[0]);
    expect(weights).toMatchObject({ repo: 'test-org/library-model', revision: 'main', path: 'model.safetensors' });
    expect(weights?.sha256).toBe(await sha256(folder['model.safetensors'] as Uint8Array));

    await expect(library.addHubModel({ repo: 'test-org/library-bad-sha', file: 'bad.gguf', endpoint: hub })).rejects.toThrow(
      /sha256 [0-9a-f]{64} does not match the expected 0{64}/,
    );
    expect((await library.list()).map((m) => m.id)).toEqual([model.id]);
    expect(await cache.has(`${hub}/test-org/library-bad-sha/resolve/main/bad.gguf`)).toBe(false);
  });

  it('adds a GGUF from a Hub subfolder at a revision, and a gated one with a token', async () => {
    const model = await library.addHubModel({ repo: 'test-org/library-gguf', revision: 'v1', file: 'gguf/tiny.Q8_0.gguf', endpoint: hub });
    expect(model).toMatchObject({ name: 'tiny.Q8_0.gguf', format: 'gguf', origin: { kind: 'hub', revision: 'v1', file: 'gguf/tiny.Q8_0.gguf' } });
    await expectCachedFiles(model, { 'tiny.Q8_0.gguf': fixtureGguf(16) });

    await expect(library.addHubModel({ repo: 'test-org/library-gated', file: 'gated.gguf', endpoint: hub })).rejects.toThrow(
      /HTTP 401: gated or private repo/,
    );
    const gated = await library.addHubModel({ repo: 'test-org/library-gated', file: 'gated.gguf', endpoint: hub, token: 'hf_library_test' });
    await expectCachedFiles(gated, { 'gated.gguf': fixtureGguf(17) });
    const hubRequests = await getRequests('/hub/test-org/library-gated/resolve/main/gated.gguf');
    expect(hubRequests.at(-1)?.authorization).toBe('Bearer hf_library_test');
  });

  it('copies local files into the cache: a GGUF, and a safetensors folder with extra files', async () => {
    const gguf = fixtureGguf(41);
    const ggufModel = await library.addLocalFiles([new File([gguf], 'local.Q4_0.gguf')]);
    expect(ggufModel).toMatchObject({ name: 'local.Q4_0.gguf', format: 'gguf', origin: { kind: 'file', names: ['local.Q4_0.gguf'] } });
    await expectCachedFiles(ggufModel, { 'local.Q4_0.gguf': gguf });

    const folder = fixtureShardedFolder();
    const files = [...Object.entries(folder), ['README.md', '# notes'] as const].map(([name, content]) => new File([encode(content)], name));
    const model = await library.addLocalFiles(files, { name: 'my-model' });
    expect(model).toMatchObject({ name: 'my-model', format: 'safetensors' });
    expect(model.origin).toEqual({
      kind: 'file',
      names: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'config.json', 'tokenizer.json'],
    });
    await expectCachedFiles(model, folder);
    expect(await library.list()).toHaveLength(2);
  });

  it('refuses local files that are not a model, before caching anything', async () => {
    const file = (name: string, content: Uint8Array | string = 'x') => new File([encode(content)], name);
    await expect(library.addLocalFiles([file('notes.txt')])).rejects.toThrow(/expected a \.gguf file .*; got notes\.txt/);
    await expect(library.addLocalFiles([file('m-00001-of-00003.gguf', fixtureGguf(1))])).rejects.toThrow(
      /part of a split GGUF: also choose m-00002-of-00003\.gguf, m-00003-of-00003\.gguf/,
    );
    await expect(library.addLocalFiles([file('model.safetensors'), file('config.json', FIXTURE_CONFIG_JSON)])).rejects.toThrow(
      /the chosen files has no tokenizer\.json/,
    );
    await expect(library.addLocalFiles([file('a.gguf', fixtureGguf(1)), file('b.safetensors')])).rejects.toThrow(/not both/);
    await expect(library.addLocalFiles([file('fake.gguf', 'not a gguf at all')])).rejects.toThrow(/fake\.gguf is not a GGUF file/);
    const notSafetensors = [file('model.safetensors', 'not safetensors'), file('config.json', FIXTURE_CONFIG_JSON), file('tokenizer.json', FIXTURE_TOKENIZER_JSON)];
    await expect(library.addLocalFiles(notSafetensors)).rejects.toThrow(/model\.safetensors is not a safetensors file/);
    expect(await library.list()).toEqual([]);
    // The JSON files copied before the bad weights were removed too.
    expect(await cache.list()).toEqual([]);
    expect(await cache.removeIncomplete()).toBe(0);
  });

  it('checks the quota before writing anything', async () => {
    const tiny = { estimate: async () => ({ quota: 10_000, usage: 4_000 }) } as unknown as StorageManager;
    const cramped = new ModelLibrary({ cache, database: 'test-library-models', storage: tiny });
    const gets = async () => (await getRequests('/library/safetensors/model.safetensors')).length + (await getRequests('/library/safetensors/config.json')).length;
    const before = await gets();
    await expect(cramped.addUrlModel(`${server}/library/safetensors/model.safetensors`)).rejects.toThrow(
      /safetensors: the model needs 22\d KiB of browser storage, but only 5\.9 KiB is free/,
    );
    expect(await gets()).toBe(before);
    expect(await cache.list()).toEqual([]);
    expect(await library.list()).toEqual([]);
    const files = [new File([fixtureGguf(1, 4096)], 'big.gguf')];
    await expect(cramped.addLocalFiles(files)).rejects.toThrow(/the model needs 16\.\d KiB of browser storage, but only 5\.9 KiB/);
  });

  it('cancel leaves no manifest and no file of the model in the cache', async () => {
    const controller = new AbortController();
    const progress: AddModelProgress[] = [];
    const adding = library.addUrlModel(`${server}/library/slow/model.safetensors`, {
      signal: controller.signal,
      onProgress: (p) => {
        progress.push(p);
        if (p.file === 'model.safetensors' && p.loaded > 60_000) controller.abort();
      },
    });
    const error = await adding.catch((e: unknown) => e);
    expect(isCancelled(error)).toBe(true);
    const last = progress.at(-1) as AddModelProgress;
    expect(last.loaded).toBeLessThan(last.total);
    expect(last).toMatchObject({ file: 'model.safetensors', fileIndex: 4, fileCount: 4 });
    expect(last.bytesPerSecond).toBeGreaterThan(0);
    expect(Number.isFinite(last.etaSeconds)).toBe(true);
    expect(await library.list()).toEqual([]);
    expect(await cache.list()).toEqual([]); // config and tokenizer files went too
    expect(await cache.removeIncomplete()).toBe(0); // and no partial weights file
  });

  it('deletes a model: its files and its manifest, keeping files another model uses', async () => {
    const whole = await library.addHubModel({ repo: 'test-org/library-model', endpoint: hub });
    const byFile = await library.addHubModel({ repo: 'test-org/library-model', file: 'model.safetensors', endpoint: hub });
    expect(byFile.id).not.toBe(whole.id);
    expect(byFile.weights).toEqual(whole.weights);
    const gguf = await library.addUrlModel(`${server}/library/tiny.gguf`);

    await library.delete(gguf.id);
    expect(await library.get(gguf.id)).toBeUndefined();
    expect(await cache.has(gguf.weights[0])).toBe(false);

    await library.delete(whole.id);
    expect((await library.list()).map((m) => m.id)).toEqual([byFile.id]);
    for (const key of byFile.weights) expect(await cache.has(key)).toBe(true);
    await library.delete(byFile.id);
    expect(await library.list()).toEqual([]);
    expect(await cache.list()).toEqual([]);
    expect(await cache.removeIncomplete()).toBe(0);
  });
});
