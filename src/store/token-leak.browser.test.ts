// The Hub token never leaks (Chromium, `gpu` project): a recognisable token reads a gated repo of the fake Hub
// (e2e/file-server.ts: the embedded model behind the canary token) through the models store, wrong and missing
// tokens fail, a run is made of the model, and every export is written. Then the token, and the wrong one, must
// be nowhere: not in any IndexedDB record of any database, localStorage (but the token's own key), the Cache
// Storage, the export files, error messages or the console.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomHostAdapter } from '../export/adapter.testing';
import { EXPORT_FORMATS, exportModel } from '../export/formats';
import { exportRecipe } from '../export/recipe/recipe';
import { runBaseSource, runModelCard, runWeights } from '../export/run-export';
import { memoryFolder } from '../export/sink';
import { loadTokenizer } from '../model/tokenizer';
import { modelLibrary } from '../model/sources/library';
import { indexedDbCheckpoints } from '../train/checkpoints';
import { defaultRunConfig, type RunConfig } from '../train/run-config';
import { HUB_TOKEN_KEY, createModelsStore } from './models';
import { runConfigJson } from './run-setup';
import { createRunsStore, indexedDbRunStorage } from './runs';

const inBrowser = typeof window !== 'undefined' && typeof indexedDB?.databases === 'function';

/** Every string in a value (keys too), bytes decoded as Latin-1 (a token is ASCII). */
async function textsOf(root: unknown): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const todo: unknown[] = [root];
  const latin1 = (bytes: ArrayBufferView | ArrayBuffer) =>
    new TextDecoder('latin1').decode(bytes instanceof ArrayBuffer ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  while (todo.length > 0) {
    const value = todo.pop();
    if (typeof value === 'string') out.push(value);
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) out.push(latin1(value));
    else if (value instanceof Blob) out.push(latin1(await value.arrayBuffer()));
    else if (value instanceof Map) for (const [k, v] of value) todo.push(k, v);
    else if (value instanceof Error) todo.push(value.message, value.stack, value.cause);
    else for (const [k, v] of Object.entries(value)) todo.push(k, v);
  }
  return out;
}

/** Keys and values of every record of every IndexedDB database of this origin. */
async function allIndexedDb(): Promise<{ where: string; value: unknown }[]> {
  const records: { where: string; value: unknown }[] = [];
  for (const { name } of await indexedDB.databases()) {
    if (!name) continue;
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    for (const storeName of db.objectStoreNames) {
      const store = db.transaction(storeName).objectStore(storeName);
      const read = <T>(request: IDBRequest<T>) => new Promise<T>((resolve) => (request.onsuccess = () => resolve(request.result)));
      const [keys, values] = await Promise.all([read(store.getAllKeys()), read(store.getAll())]);
      keys.forEach((key, i) => records.push({ where: `${name}/${storeName}/${String(key)}`, value: [key, values[i]] }));
    }
    db.close();
  }
  return records;
}

describe.runIf(inBrowser)('the Hub token', () => {
  const hub = inject('fakeHubUrl');
  const token = inject('canaryHubToken');
  const wrongToken = 'hf_WrongCanary0c4e81b5a2d9f7';
  const logged: unknown[] = [];
  const originals = { ...console };

  beforeAll(() => {
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      console[level] = (...args: unknown[]) => {
        logged.push(args);
        originals[level](...args);
      };
    }
  });
  afterAll(() => Object.assign(console, originals));

  it('is nowhere but in localStorage under its own key, and in the request that needs it', async () => {
    const library = modelLibrary();
    const models = createModelsStore({
      library: {
        list: () => library.list(),
        delete: (id) => library.delete(id),
        addUrlModel: (url, options) => library.addUrlModel(url, options),
        addLocalFiles: (files, options) => library.addLocalFiles(files, options),
        addHubModel: (source, options) => library.addHubModel({ ...source, endpoint: hub }, options), // the fake Hub
      },
      tokenStorage: localStorage,
      estimateStorage: async () => null,
      requestPersistence: async () => false,
    });
    const form = { repo: 'test-org/manyicl-tiny-gated', revision: '', file: '' };
    const errors: string[] = [];

    // No token, then a wrong one: refused, in words that name neither.
    expect(await models.getState().addFromHub(form)).toBeNull();
    errors.push(models.getState().error ?? '');
    expect(models.getState().error).toMatch(/HTTP 401/);
    models.getState().setHubToken(wrongToken);
    expect(await models.getState().addFromHub(form)).toBeNull();
    errors.push(models.getState().error ?? '');
    expect(models.getState().error).toMatch(/HTTP 403/);

    // The right token: the model is cached.
    models.getState().setHubToken(token);
    expect(localStorage.getItem(HUB_TOKEN_KEY)).toBe(token);
    const model = await models.getState().addFromHub(form);
    expect(models.getState().error).toBeNull();
    expect(model).not.toBeNull();

    // A run of it, a checkpoint, and every export the store layer makes.
    const runs = createRunsStore({
      storage: indexedDbRunStorage(),
      createClient: () => ({
        start: async (_run, onEvent) => {
          onEvent({ type: 'status', status: 'error', message: 'a failure in the worker' });
        },
        pause: async () => {},
        resume: async () => {},
        stop: async () => {},
        dispose: () => {},
      }),
      deleteCheckpoint: async () => {},
      now: () => Date.now(),
      newId: () => `run-leak-${Date.now()}`,
      persistDelayMs: 0,
      eventBatchMs: 0,
    });
    const config: RunConfig = { ...defaultRunConfig(), mode: 'lora', model: { source: 'cached', id: model!.id, name: model!.name } };
    const id = runs.getState().createRun(config, 'leak check');
    await runs.getState().startRun(id);
    await runs.getState().flush();
    const run = runs.getState().runs.find((r) => r.id === id)!;
    errors.push(run.error ?? '');

    const base = await runBaseSource(config.model, location.href);
    expect(base.repo).toBe('test-org/manyicl-tiny-gated');
    const params = Float32Array.from([...randomHostAdapter(base.spec, config.lora).tensors.values()].flatMap((t) => [...t]));
    await indexedDbCheckpoints.save({
      runId: id, step: 1, mode: 'lora', params, m: new Float32Array(params.length), v: new Float32Array(params.length), savedAt: Date.now(),
    });
    const exports = new Map<string, Uint8Array | string>([['run-config.json', runConfigJson(config)], ['model card', runModelCard(run, base)]]);
    const { adapter } = await runWeights(run, base);
    for (const format of EXPORT_FORMATS) {
      const folder = memoryFolder();
      await exportModel(format, base, adapter, folder, { modelCard: runModelCard(run, base) });
      for (const [name, bytes] of folder.files) exports.set(`${format}/${name}`, bytes);
    }
    const recipe = memoryFolder();
    await exportRecipe(config, loadTokenizer(base.tokenizer!), recipe, { base, testRows: [] });
    for (const [name, bytes] of recipe.files) exports.set(`recipe/${name}`, bytes);
    expect(exports.size).toBeGreaterThan(10);

    // Now look for the tokens everywhere.
    const cacheUrls: string[] = [];
    for (const name of await caches.keys()) for (const request of await (await caches.open(name)).keys()) cacheUrls.push(name, request.url);
    const localStorageRest = Object.keys(localStorage).filter((k) => k !== HUB_TOKEN_KEY).map((k) => [k, localStorage.getItem(k)]);
    const places: Record<string, unknown> = {
      indexedDb: await allIndexedDb(),
      localStorage: localStorageRest,
      cacheStorage: cacheUrls,
      exports: [...exports],
      errors,
      modelsState: { ...models.getState(), hubToken: null }, // the form's field holds it, in memory, by design
      runsState: runs.getState().runs,
      console: logged,
    };
    expect((places.indexedDb as unknown[]).length).toBeGreaterThan(3);
    for (const [place, value] of Object.entries(places)) {
      const texts = await textsOf(value);
      for (const secret of [token, wrongToken]) {
        const hit = texts.find((t) => t.includes(secret));
        expect(hit === undefined ? null : `${place}: ${hit.slice(0, 200)}`).toBeNull();
      }
    }
    // The check can fail: the token is there to be found where it belongs.
    expect((await textsOf([localStorage.getItem(HUB_TOKEN_KEY)])).some((t) => t.includes(token))).toBe(true);
  }, 120_000);
});
