import { describe, expect, test, vi } from 'vitest';
import { cancelledError } from '../model/sources/download';
import type { AddModelOptions, CachedModel } from '../model/sources/library';
import { defaultRunConfig, validateConfig } from '../train/run-config';
import { testRunSetupStore } from './run-setup.testing';
import { HUB_TOKEN_KEY, type LibraryApi, type TokenStorage, type TokenizerCheckStorage, createModelsStore } from './models';

const MODEL: CachedModel = {
  id: 'url-1',
  name: 'tiny.gguf',
  origin: { kind: 'url', url: 'https://example.org/tiny.gguf' },
  format: 'gguf',
  weights: ['https://example.org/tiny.gguf'],
  bytes: 1000,
  addedAt: 1,
};

function memoryTokenStorage(initial: Record<string, string> = {}): TokenStorage & { items: Map<string, string> } {
  const items = new Map(Object.entries(initial));
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** A library whose adds wait until the test finishes them, reporting progress on the way. */
function fakeLibrary() {
  const models: CachedModel[] = [];
  const calls: { method: string; args: unknown[]; options?: AddModelOptions }[] = [];
  let finish: ((model: CachedModel) => void) | null = null;
  let fail: ((error: unknown) => void) | null = null;
  const pendingAdd = (method: string, args: unknown[], options: AddModelOptions = {}) => {
    calls.push({ method, args, options });
    return new Promise<CachedModel>((resolve, reject) => {
      finish = (model) => {
        models.push(model);
        resolve(model);
      };
      fail = reject;
      options.signal?.addEventListener('abort', () => reject(cancelledError()));
    });
  };
  const library: LibraryApi = {
    list: async () => [...models],
    delete: async (id) => {
      calls.push({ method: 'delete', args: [id] });
      models.splice(models.findIndex((m) => m.id === id), 1);
    },
    addHubModel: (source, options) => pendingAdd('addHubModel', [source], options),
    addUrlModel: (url, options) => pendingAdd('addUrlModel', [url], options),
    addLocalFiles: (files, options) => pendingAdd('addLocalFiles', [files], options),
  };
  return {
    library,
    models,
    calls,
    finish: (model: CachedModel) => (finish as (m: CachedModel) => void)(model),
    fail: (error: unknown) => (fail as (e: unknown) => void)(error),
  };
}

function setup(tokens = memoryTokenStorage(), checkTokenizer?: (model: CachedModel) => Promise<void>, tokenizerChecks?: TokenizerCheckStorage, fake = fakeLibrary()) {
  let persistRequests = 0;
  const store = createModelsStore({
    checkTokenizer,
    tokenizerChecks,
    library: fake.library,
    tokenStorage: tokens,
    estimateStorage: async () => ({ usage: 5000, quota: 1_000_000 }),
    requestPersistence: async () => {
      persistRequests += 1;
      return true;
    },
  });
  return { store, fake, tokens, persistRequests: () => persistRequests };
}

describe('models store', () => {
  test('refresh reads the list and the storage estimate', async () => {
    const { store, fake } = setup();
    fake.models.push(MODEL);
    expect(store.getState().loaded).toBe(false);
    await store.getState().refresh();
    expect(store.getState()).toMatchObject({ loaded: true, models: [MODEL], storage: { usage: 5000, quota: 1_000_000 } });
  });

  test('a download shows its progress, then the model in the list', async () => {
    const { store, fake, persistRequests } = setup();
    const adding = store.getState().addFromUrl(' https://example.org/models/tiny.gguf?download=true ');
    expect(store.getState().transfer).toMatchObject({ label: 'tiny.gguf', file: '', loaded: 0, total: 0 });
    expect(fake.calls[0]).toMatchObject({ method: 'addUrlModel', args: ['https://example.org/models/tiny.gguf?download=true'] });
    expect(persistRequests()).toBe(1);

    fake.calls[0].options?.onProgress?.({ loaded: 400, total: 1000, bytesPerSecond: 200, etaSeconds: 3, file: 'tiny.gguf', fileIndex: 1, fileCount: 1 });
    expect(store.getState().transfer).toMatchObject({ label: 'tiny.gguf', file: 'tiny.gguf', loaded: 400, total: 1000, bytesPerSecond: 200, etaSeconds: 3 });
    fake.calls[0].options?.onProgress?.({ loaded: 500, total: 1000, bytesPerSecond: 200, etaSeconds: 2, file: 'config.json', fileIndex: 2, fileCount: 3 });
    expect(store.getState().transfer?.file).toBe('config.json (2 of 3)');

    // One at a time.
    expect(await store.getState().addFromUrl('https://example.org/other.gguf')).toBeNull();
    expect(store.getState().error).toMatch(/already being added/);
    expect(fake.calls).toHaveLength(1);

    fake.finish(MODEL);
    expect(await adding).toEqual(MODEL);
    expect(store.getState()).toMatchObject({ transfer: null, error: null, notice: 'Added tiny.gguf.', models: [MODEL] });
  });

  test('cancel stops the download and says so; a failure is an error in plain words', async () => {
    const { store, fake } = setup();
    const adding = store.getState().addFromHub({ repo: 'org/model', revision: '', file: 'm.gguf' });
    expect(fake.calls[0].args[0]).toEqual({ repo: 'org/model', revision: 'main', file: 'm.gguf' });
    store.getState().transfer?.cancel();
    expect(await adding).toBeNull();
    expect(store.getState()).toMatchObject({ transfer: null, error: null, notice: 'Cancelled: org/model: m.gguf was not added.' });

    const failing = store.getState().addFromFiles([new File(['x'], 'notes.txt')]);
    fake.fail(new Error('expected a .gguf file; got notes.txt'));
    expect(await failing).toBeNull();
    expect(store.getState()).toMatchObject({ transfer: null, error: 'Could not add notes.txt: expected a .gguf file; got notes.txt' });
    store.getState().dismiss();
    expect(store.getState().error).toBeNull();
  });

  test('refuses empty forms without calling the library', async () => {
    const { store, fake } = setup();
    expect(await store.getState().addFromHub({ repo: ' ', revision: 'main', file: '' })).toBeNull();
    expect(store.getState().error).toMatch(/Name a Hub repository/);
    expect(await store.getState().addFromUrl('')).toBeNull();
    expect(await store.getState().addFromFiles([])).toBeNull();
    expect(fake.calls).toHaveLength(0);
  });

  test('local files keep the dropped folder name', async () => {
    const { store, fake } = setup();
    const files = [new File(['x'], 'model.safetensors'), new File(['{}'], 'config.json')];
    const adding = store.getState().addFromFiles(files, 'my-model');
    expect(store.getState().transfer?.label).toBe('my-model');
    expect(fake.calls[0].args[0]).toBe(files);
    expect(fake.calls[0].options).toMatchObject({ name: 'my-model' });
    fake.finish({ ...MODEL, id: 'file-1', name: 'my-model' });
    await adding;
  });

  test('the Hub token is kept in local storage, sent only in Hub requests, and can be forgotten', async () => {
    const tokens = memoryTokenStorage({ [HUB_TOKEN_KEY]: 'hf_saved' });
    const { store, fake } = setup(tokens);
    expect(store.getState().hubToken).toBe('hf_saved');
    store.getState().setHubToken('hf_new ');
    expect(tokens.items.get(HUB_TOKEN_KEY)).toBe('hf_new');

    const hub = store.getState().addFromHub({ repo: 'org/gated', revision: 'main', file: '' });
    expect(fake.calls[0].args[0]).toEqual({ repo: 'org/gated', revision: 'main', token: 'hf_new' });
    fake.finish({ ...MODEL, id: 'hub-1' });
    await hub;
    const url = store.getState().addFromUrl('https://example.org/m.gguf');
    expect(JSON.stringify(fake.calls[1])).not.toContain('hf_new');
    fake.finish(MODEL);
    await url;

    store.getState().forgetHubToken();
    expect(store.getState().hubToken).toBe('');
    expect(tokens.items.has(HUB_TOKEN_KEY)).toBe(false);
    expect(createModelsStore({ library: fake.library, tokenStorage: tokens, estimateStorage: async () => null, requestPersistence: async () => false }).getState().hubToken).toBe('');
  });

  test('delete calls the library and refreshes the list', async () => {
    const { store, fake } = setup();
    fake.models.push(MODEL);
    await store.getState().refresh();
    await store.getState().deleteModel('url-1');
    expect(fake.calls).toEqual([{ method: 'delete', args: ['url-1'] }]);
    expect(store.getState()).toMatchObject({ models: [], notice: 'Deleted tiny.gguf.' });
  });
});

describe('a cached model as the base model', () => {
  test('is fine-tuned with LoRA, without the embedded-model warning or its context limit', () => {
    const { store } = testRunSetupStore({
      fetchTokenizer: async () => {
        throw new Error('unused');
      },
      cachedTokenizer: async () => {
        throw new Error('unused');
      },
      embeddedModelUrl: () => '',
    });
    store.getState().chooseModel({ source: 'cached', id: 'hub-1', name: 'org/model', quantize: 'Q4_0' });
    const { config } = store.getState();
    expect(config.mode).toBe('lora');
    expect(config.model).toEqual({ source: 'cached', id: 'hub-1', name: 'org/model', quantize: 'Q4_0' });
    expect(validateConfig({ ...config, contextLength: 8192 })).toEqual({ errors: [], warnings: [] });

    store.getState().chooseModel({ source: 'embedded', id: 'manyicl-tiny' });
    expect(store.getState().config.mode).toBe('full');
    const embeddedLora = validateConfig({ ...defaultRunConfig(), mode: 'lora', contextLength: 8192 });
    expect(embeddedLora.errors.join(' ')).toMatch(/at most 1024 tokens/);
    expect(embeddedLora.warnings.join(' ')).toMatch(/embedded model is randomly initialised/);
  });
});

describe('models without a usable tokenizer', () => {
  const noTokenizer = async (model: CachedModel) => {
    if (model.name.startsWith('notok')) throw new Error(`${model.name}: the GGUF has no tokenizer.ggml.model`);
  };

  test('are flagged when added, with the reason, and their runs are blocked', async () => {
    const { store, fake } = setup(memoryTokenStorage(), noTokenizer);
    const adding = store.getState().addFromUrl('https://example.org/notok.gguf');
    fake.finish({ ...MODEL, id: 'url-2', name: 'notok.gguf' });
    await adding;
    expect(store.getState().tokenizerProblems).toEqual({ 'url-2': 'notok.gguf: the GGUF has no tokenizer.ggml.model' });
    expect(store.getState()).toMatchObject({ notice: 'Added notok.gguf.', error: null });

    const fine = store.getState().addFromUrl('https://example.org/tiny.gguf');
    fake.finish(MODEL);
    await fine;
    expect(store.getState()).toMatchObject({ notice: 'Added tiny.gguf.', error: null });
    expect(Object.keys(store.getState().tokenizerProblems)).toEqual(['url-2']);

    await store.getState().deleteModel('url-2');
    expect(store.getState().tokenizerProblems).toEqual({});
  });

  test('models already in the cache are checked when the list is read', async () => {
    const checked: string[] = [];
    const { store, fake } = setup(memoryTokenStorage(), async (model) => {
      checked.push(model.id);
      await noTokenizer(model);
    });
    fake.models.push(MODEL, { ...MODEL, id: 'url-3', name: 'notok-old.gguf' });
    await store.getState().refresh();
    await vi.waitFor(() => expect(store.getState().tokenizerProblems['url-3']).toMatch(/no tokenizer/));
    await store.getState().refresh();
    expect(checked).toEqual(['url-1', 'url-3']); // once each
  });

  test('a page load reads the kept results instead of loading every tokenizer again; a model added again is checked again', async () => {
    let kept: Record<string, string | null> = {};
    const storage: TokenizerCheckStorage = { load: async () => ({ ...kept }), save: async (checks) => void (kept = checks) };
    const checked: string[] = [];
    const check = async (model: CachedModel) => {
      checked.push(model.id);
      await noTokenizer(model);
    };
    const fake = fakeLibrary();
    fake.models.push(MODEL, { ...MODEL, id: 'url-3', name: 'notok-old.gguf' });
    await setup(memoryTokenStorage(), check, storage, fake).store.getState().refresh();
    await vi.waitFor(() => expect(Object.keys(kept)).toHaveLength(2));
    expect(kept).toEqual({ 'url-1@1': null, 'url-3@1': 'notok-old.gguf: the GGUF has no tokenizer.ggml.model' });

    const reloaded = setup(memoryTokenStorage(), check, storage, fake).store;
    await reloaded.getState().refresh();
    await vi.waitFor(() => expect(reloaded.getState().tokenizerProblems).toEqual({ 'url-3': 'notok-old.gguf: the GGUF has no tokenizer.ggml.model' }));
    expect(checked).toEqual(['url-1', 'url-3']);

    fake.models.splice(1, 1, { ...MODEL, id: 'url-3', name: 'notok-old.gguf', addedAt: 2 });
    await reloaded.getState().refresh();
    await vi.waitFor(() => expect(checked).toEqual(['url-1', 'url-3', 'url-3']));
    await vi.waitFor(() => expect(Object.keys(kept)).toEqual(['url-1@1', 'url-3@2']));
  });
});
