import { describe, expect, test } from 'vitest';
import type { HfRows, HfRowsOptions } from '../data/importers';
import { BUILTIN_TASKS } from '../data/tasks';
import { charTokenizer } from '../data/tokenizer';
import { defaultRunConfig } from '../train/run-config';
import type { RunConfig } from '../train/run-config';
import { plannedRuns, streamOptions, validateConfig } from '../train/run-config';
import {
  BUILTIN_TASK_INFO, QUICK_DEMO, type SavedSetup, type SetupStorage, createBlockers, embeddedModelUrl, restoreSetup, runConfigJson, runConfigWithImports,
  selectCheck, selectPreview, selectRunConfig, tasksByFamily,
} from './run-setup';
import { testRunSetupStore } from './run-setup.testing';

function setup(hfRows?: (opts: HfRowsOptions) => Promise<HfRows>) {
  return testRunSetupStore(hfRows ? { fetchHfRows: hfRows } : {});
}

const config = (patch: Partial<RunConfig> = {}): RunConfig => ({ ...defaultRunConfig(), ...patch });

describe('built-in tasks', () => {
  test('every task is listed once, under its family', () => {
    expect(BUILTIN_TASK_INFO.map((t) => t.name).sort()).toEqual(Object.keys(BUILTIN_TASKS).sort());
    const groups = tasksByFamily();
    expect(groups.flatMap((g) => g.tasks.map((t) => t.name)).sort()).toEqual(Object.keys(BUILTIN_TASKS).sort());
    for (const group of groups) for (const task of group.tasks) expect(task.family).toBe(group.family);
    expect(groups.find((g) => g.family === 'math')?.tasks.map((t) => t.name)).toContain('arithmetic');
  });
});

describe('task mixture and settings', () => {
  test('ticking tasks keeps the built-in order and remembers weights', () => {
    const { store } = setup();
    const s = () => store.getState();
    s().setTaskWeight('sentiment', 3);
    s().toggleTask('sentiment'); // off
    s().toggleTask('nli');
    s().toggleTask('sentiment'); // on again, with its weight
    expect(s().config.tasks).toEqual([
      { task: 'sentiment', weight: 3 },
      { task: 'nli', weight: 1 },
      { task: 'arithmetic', weight: 1 },
    ]);
    s().toggleTask('no-such-task');
    expect(s().config.tasks).toHaveLength(3);
  });

  test('LoRA targets stay in layer order; settings patch the config', () => {
    const { store } = setup();
    const s = () => store.getState();
    s().setLora({ targets: [] });
    s().toggleLoraTarget('v_proj');
    s().toggleLoraTarget('q_proj');
    expect(s().config.lora.targets).toEqual(['q_proj', 'v_proj']);
    s().toggleLoraTarget('v_proj');
    expect(s().config.lora.targets).toEqual(['q_proj']);
    s().setConfig({ contextLength: 512, mode: 'lora', maxShots: 8 });
    expect(s().config).toMatchObject({ contextLength: 512, mode: 'lora', maxShots: 8, lora: { targets: ['q_proj'] } });
    s().loadConfig(config({ tasks: [{ task: 'topic', weight: 2 }] }));
    expect(s().config.tasks).toEqual([{ task: 'topic', weight: 2 }]);
    expect(s().weights.topic).toBe(2);
  });

  test('a run config file sets up the form; a bad one is refused in words and changes nothing', () => {
    const { store } = setup();
    const s = () => store.getState();
    const file = runConfigJson(config({ steps: 12, tasks: [{ task: 'topic', weight: 3 }] }));
    s().loadConfigFile('run.config.json', file);
    expect(s().config).toMatchObject({ steps: 12, tasks: [{ task: 'topic', weight: 3 }] });
    s().loadConfigFile('broken.json', '{"steps": "many"}');
    expect(s().configFileError).toBe('broken.json: steps must be a number, got "many"');
    expect(s().config.steps).toBe(12);
    s().loadConfigFile('run.config.json', file);
    expect(s().configFileError).toBeNull();
  });
});

describe('imports', () => {
  test('enabled imported datasets go into the run config, and the run trains on them', () => {
    const { store } = setup();
    store.getState().openFile('capitals.jsonl', '{"q": "capital of france", "a": "paris"}\n{"q": "capital of spain", "a": "madrid"}\n');
    store.getState().commitDraft();
    const [dataset] = store.getState().imports;
    const cfg = runConfigWithImports(config({ tasks: [] }), store.getState().imports);
    expect(cfg.datasets).toEqual([{ name: dataset.name, family: dataset.family, examples: dataset.examples, weight: 1 }]);
    expect(validateConfig(cfg).errors).toEqual([]);
    const sources = streamOptions(cfg, charTokenizer()).sources;
    expect(sources.map((s) => s.task.name)).toEqual(['capitals']);
    expect(sources[0].task.example(1).answer).toBe('madrid');
    const dedicated = plannedRuns(runConfigWithImports(config({ objective: 'dedicated' }), store.getState().imports));
    expect(dedicated.map((r) => r.suffix)).toEqual(['sentiment', 'arithmetic', 'capitals']);
    for (const r of dedicated) expect(streamOptions(r.config, charTokenizer()).sources.map((s) => s.task.name)).toEqual([r.suffix]);
    store.getState().toggleImport(dataset.id);
    expect(runConfigWithImports(config(), store.getState().imports).datasets).toEqual([]);
  });

  test('a JSONL upload becomes a dataset; bad rows are listed', () => {
    const { store } = setup();
    const s = () => store.getState();
    s().openFile('My Reviews.jsonl', '{"text": "good", "label": "pos"}\n{"text": "bad"}\n{oops\n{"text": "meh", "label": "neg"}\n');
    expect(s().draft).toMatchObject({ kind: 'file', format: 'jsonl', name: 'my-reviews', columns: ['text', 'label'], mapping: { input: ['text'], answer: 'label' } });
    s().commitDraft();
    expect(s().draft).toBeNull();
    const [dataset] = s().imports;
    expect(dataset).toMatchObject({ name: 'my-reviews', origin: 'My Reviews.jsonl', enabled: true, weight: 1 });
    expect(dataset.examples.map((e) => [e.input, e.answer])).toEqual([['good', 'pos'], ['meh', 'neg']]);
    expect(dataset.errors.map((e) => e.row)).toEqual([2, 3]);

    // The same file name again: the draft suggests a free name; a taken name typed in is refused, with one that is free.
    s().openFile('my reviews.csv', 'text,label\ngreat,pos\n');
    expect(s().draft?.name).toBe('my-reviews-2');
    s().updateDraft({ name: 'my-reviews' });
    s().commitDraft();
    expect(s().draft?.error).toBe('There is already a task named my-reviews: call this one my-reviews-2, say.');
    s().updateDraft({ name: 'sentiment' });
    s().commitDraft();
    expect(s().draft?.error).toBe('There is already a task named sentiment: call this one sentiment-2, say.');
    s().updateDraft({ name: 'csv-reviews' });
    s().commitDraft();
    expect(s().imports.map((d) => d.name)).toEqual(['my-reviews', 'csv-reviews']);

    s().toggleImport(dataset.id);
    s().setImportWeight(dataset.id, 2);
    expect(s().imports[0]).toMatchObject({ enabled: false, weight: 2 });
    s().removeImport(dataset.id);
    expect(s().imports.map((d) => d.name)).toEqual(['csv-reviews']);
  });

  test('an upload without a valid row keeps the draft open with the reason', () => {
    const { store } = setup();
    store.getState().openFile('bad.jsonl', '{"text": "a"}\n');
    store.getState().updateDraft({ mapping: { input: ['text'], answer: 'label', id: '' } });
    store.getState().commitDraft();
    expect(store.getState().draft?.error).toMatch(/no valid examples/);
    expect(store.getState().imports).toEqual([]);
  });

  test('a Hugging Face split is fetched, mapped with its class names, and imported', async () => {
    const asked: HfRowsOptions[] = [];
    const { store } = setup(async (opts) => {
      asked.push(opts);
      return {
        rows: [{ sentence: 'fine film', label: 1 }, { sentence: 'dull', label: 0 }, { sentence: '', label: 0 }],
        numRowsTotal: 3,
        features: [{ name: 'sentence', type: { dtype: 'string' } }, { name: 'label', type: { _type: 'ClassLabel', names: ['neg', 'pos'] } }],
        truncatedRows: [],
      };
    });
    const s = () => store.getState();
    await s().fetchHf();
    expect(s().hfError).toMatch(/Name a dataset/);
    s().setHfForm({ dataset: 'stanfordnlp/sst2', split: 'validation', length: 3 });
    await s().fetchHf();
    expect(asked[0]).toMatchObject({ dataset: 'stanfordnlp/sst2', config: 'default', split: 'validation', length: 3, offset: 0 });
    expect(s().draft).toMatchObject({ kind: 'hf', name: 'sst2', columns: ['sentence', 'label'], mapping: { input: ['sentence'], answer: 'label' } });
    s().commitDraft();
    const [dataset] = s().imports;
    expect(dataset.origin).toBe('stanfordnlp/sst2 · default · validation');
    expect(dataset.examples.map((e) => e.answer)).toEqual(['pos', 'neg']);
    expect(dataset.errors).toEqual([{ row: 2, message: expect.stringMatching(/empty input/) }]);
  });

  test('a failing Hugging Face request shows its message', async () => {
    const { store } = setup(async () => {
      throw new Error('not found on Hugging Face');
    });
    store.getState().setHfForm({ dataset: 'nobody/nothing' });
    await store.getState().fetchHf();
    expect(store.getState()).toMatchObject({ hfStatus: 'error', hfError: 'not found on Hugging Face', draft: null });
  });
});

describe('tokenizer and preview', () => {
  test('loads the embedded tokenizer once', async () => {
    const { store, requested } = setup();
    await Promise.all([store.getState().loadTokenizer(), store.getState().loadTokenizer()]);
    await store.getState().loadTokenizer();
    expect(requested).toEqual(['http://localhost/models/manyicl-tiny/']);
    expect(store.getState().tokenizerStatus).toBe('ready');
  });

  test('loads the chosen cached model\'s tokenizer, and the embedded one again when switched back', async () => {
    const { store, requested } = setup();
    const s = () => store.getState();
    await s().loadTokenizer();
    const embedded = s().tokenizer;
    s().chooseModel({ source: 'cached', id: 'hub:org/m', name: 'm.gguf' });
    const loading = s().loadTokenizer();
    expect(s()).toMatchObject({ tokenizerStatus: 'loading', tokenizer: null, tokenizerOf: 'cached:hub:org/m' });
    await loading;
    expect(s().tokenizerStatus).toBe('ready');
    expect(s().tokenizer).not.toBe(embedded);
    // A switch while a load is under way: the late answer does not replace the newer model's tokenizer.
    s().chooseModel({ source: 'cached', id: 'hub:org/other', name: 'o.gguf' });
    const stale = s().loadTokenizer();
    s().chooseModel({ source: 'embedded', id: 'manyicl-tiny' });
    await Promise.all([stale, s().loadTokenizer()]);
    expect(s()).toMatchObject({ tokenizerOf: 'embedded', tokenizerStatus: 'ready' });
    expect(requested).toEqual(['http://localhost/models/manyicl-tiny/', 'cached:hub:org/m', 'cached:hub:org/other', 'http://localhost/models/manyicl-tiny/']);
  });

  test('a tokenizer that cannot be fetched is reported', async () => {
    const { store } = testRunSetupStore({
      fetchTokenizer: async () => {
        throw new Error('HTTP 404');
      },
      cachedTokenizer: async () => {
        throw new Error('unused');
      },
      embeddedModelUrl: () => 'x',
    });
    await store.getState().loadTokenizer();
    expect(store.getState()).toMatchObject({ tokenizerStatus: 'error', tokenizerError: 'HTTP 404' });
  });

  test('the embedded model URL is absolute', () => {
    expect(embeddedModelUrl()).toMatch(/^http:\/\/.+\/models\/manyicl-tiny\/$/);
  });

  test('the preview: loading, then the context of the setup, or why there is none', async () => {
    const { store } = setup();
    const s = () => store.getState();
    expect(selectPreview(s())).toEqual({ preview: null, message: 'Loading the tokenizer…' });
    await s().loadTokenizer();
    const first = selectPreview(s());
    expect(first.message).toBeNull();
    expect(first.preview?.tasks.length).toBeGreaterThan(0);
    expect(selectPreview(s())).toBe(first);
    s().setPreviewIndex(1);
    expect(selectPreview(s())).not.toBe(first);
    s().toggleTask('sentiment');
    s().toggleTask('arithmetic');
    expect(selectPreview(s())).toMatchObject({ preview: null, message: expect.stringMatching(/no task sources/) });
  });

  test('a tokenizer that failed to load is the preview\'s message', async () => {
    const { store } = testRunSetupStore({ embeddedModelUrl: () => 'http://localhost/broken/' });
    await store.getState().loadTokenizer();
    expect(selectPreview(store.getState())).toEqual({ preview: null, message: 'The tokenizer could not be loaded: HTTP 404' });
  });
});

describe('the setup check', () => {
  test('checks the config with the enabled imports, and stays the same object while they do', () => {
    const { store } = setup();
    const s = () => store.getState();
    const check = selectCheck(s());
    expect(check).toEqual({ errors: [], warnings: [] });
    expect(selectCheck(s())).toBe(check);
    s().toggleTask('sentiment');
    s().toggleTask('arithmetic');
    expect(selectCheck(s()).errors).toEqual(['Choose at least one task: a built-in one or an imported dataset.']);
    s().openFile('capitals.jsonl', '{"q": "capital of france", "a": "paris"}\n');
    s().commitDraft();
    expect(selectRunConfig(s()).datasets?.map((d) => d.name)).toEqual(['capitals']);
    const tooSmall = 'capitals has too few examples to hold out a test split: it is trained on whole, and not evaluated.';
    expect(selectCheck(s())).toEqual({ errors: [], warnings: [tooSmall] });
    s().setConfig({ objective: 'dedicated' });
    s().toggleTask('nli');
    expect(selectCheck(s()).warnings).toEqual([tooSmall, 'Dedicated: 2 runs will be made, one adapter per task.']);
  });
});

describe('creating runs', () => {
  test('manyicl: one run with the setup\'s config, named by default or as asked, started when asked', async () => {
    const { store, runs, started } = setup();
    const ids = store.getState().createRuns('', { start: true });
    expect(ids).toEqual(['run-1']);
    await runs.getState().flush();
    expect(started).toEqual(['run-1']);
    const [run] = runs.getState().runs;
    expect(run).toMatchObject({ id: 'run-1', name: 'manyicl · full #1' });
    expect(run.config).toEqual({ ...defaultRunConfig(), datasets: [] });
    expect(store.getState().createRuns('  mine  ')).toEqual(['run-2']);
    expect(runs.getState().runs.map((r) => r.name)).toEqual(['mine', 'manyicl · full #1']);
    expect(started).toEqual(['run-1']);
  });

  test('dedicated: one run per built-in task and per enabled import, each on its task alone', () => {
    const { store, runs, started } = setup();
    const s = () => store.getState();
    s().openFile('capitals.jsonl', '{"q": "capital of france", "a": "paris"}\n{"q": "capital of spain", "a": "madrid"}\n');
    s().commitDraft();
    s().openFile('off.jsonl', '{"q": "a", "a": "b"}\n');
    s().commitDraft();
    s().toggleImport(s().imports[1].id);
    s().setConfig({ objective: 'dedicated' });
    const ids = s().createRuns('');
    expect(ids).toHaveLength(3);
    const made = ids.map((id) => runs.getState().runs.find((r) => r.id === id)!);
    expect(made.map((r) => r.name)).toEqual(['dedicated · full #1 · sentiment', 'dedicated · full #1 · arithmetic', 'dedicated · full #1 · capitals']);
    expect(made.map((r) => [r.config.tasks, r.config.datasets?.map((d) => [d.name, d.weight])])).toEqual([
      [[{ task: 'sentiment', weight: 1 }], []],
      [[{ task: 'arithmetic', weight: 1 }], []],
      [[], [['capitals', 1]]],
    ]);
    expect(made[2].config.datasets?.[0].examples.map((e) => e.answer)).toEqual(['paris', 'madrid']);
    expect(s().createRuns('cmp').map((id) => runs.getState().runs.find((r) => r.id === id)?.name)).toEqual(['cmp · sentiment', 'cmp · arithmetic', 'cmp · capitals']);
    expect(started).toEqual([]);
  });
});

function memorySetupStorage(): SetupStorage & { saved: SavedSetup | undefined; saves: number } {
  const storage = {
    saved: undefined as SavedSetup | undefined,
    saves: 0,
    load: async () => (storage.saved ? structuredClone(storage.saved) : undefined),
    save: async (setup: SavedSetup) => {
      storage.saved = structuredClone(setup);
      storage.saves++;
    },
  };
  return storage;
}

const flushTimers = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('nothing set up is lost', () => {
  test('the form and the imported datasets, with their mapping, survive a reload', async () => {
    const storage = memorySetupStorage();
    const first = testRunSetupStore({ storage, saveDelayMs: 0 }).store;
    const s = () => first.getState();
    s().setConfig({ objective: 'dedicated' }); // before the saved setup is read: not saved over it
    await flushTimers();
    expect(storage.saves).toBe(0);
    await s().loadSetup();
    s().setConfig({ contextLength: 64, steps: 8, objective: 'last-answer', renameLabels: false });
    s().setTaskWeight('arithmetic', 3);
    s().toggleTask('nli');
    s().openFile('reviews.tsv', 'text\tlabel\ngreat film\tpos\ndull\tneg\n');
    s().updateDraft({ name: 'reviews' });
    s().commitDraft();
    s().setImportWeight(s().imports[0].id, 2);
    await flushTimers();
    expect(storage.saves).toBeGreaterThan(0);
    expect(storage.saved?.imports[0]).toMatchObject({ name: 'reviews', weight: 2, delimiter: '\t', mapping: { input: ['text'], answer: 'label', id: '' } });

    // A new page: a new store over the same storage.
    const second = testRunSetupStore({ storage, saveDelayMs: 0 }).store;
    await second.getState().loadSetup();
    expect(second.getState().config).toEqual(s().config);
    expect(second.getState().weights).toEqual(s().weights);
    expect(second.getState().imports).toEqual(s().imports);
    expect(selectRunConfig(second.getState())).toEqual(selectRunConfig(s()));
    expect(selectRunConfig(second.getState()).datasets?.map((d) => [d.name, d.examples.map((e) => e.answer)])).toEqual([['reviews', ['pos', 'neg']]]);
    // A dataset imported after the reload gets an id of its own.
    second.getState().openFile('more.jsonl', '{"text": "x", "label": "y"}\n');
    second.getState().commitDraft();
    expect(new Set(second.getState().imports.map((d) => d.id)).size).toBe(2);
  });

  test('an edit made while the saved setup is read wins and is saved; a damaged saved setup gives the defaults and says so', async () => {
    const storage = memorySetupStorage();
    storage.saved = { version: 1, config: { ...config(), steps: 11 }, weights: {}, imports: [] };
    let release = () => {};
    const slow: SetupStorage = { load: () => new Promise((resolve) => (release = () => resolve(storage.load()))), save: storage.save };
    const store = testRunSetupStore({ storage: slow, saveDelayMs: 0 }).store;
    const loading = store.getState().loadSetup();
    store.getState().setConfig({ steps: 3 }); // e.g. the quick demo, clicked before the read ends
    release();
    await loading;
    await flushTimers();
    expect(store.getState().config.steps).toBe(3);
    expect(storage.saved?.config.steps).toBe(3);

    storage.saved = { version: 1, config: { ...config(), lora: null }, weights: {}, imports: [] } as unknown as SavedSetup;
    const damaged = testRunSetupStore({ storage, saveDelayMs: 0 }).store;
    await damaged.getState().loadSetup();
    expect(damaged.getState().config.lora.targets.length).toBeGreaterThan(0);
    expect(damaged.getState().setupError).toBe('The saved setup is of another version or damaged: the form shows the defaults.');
  });

  test('choosing a model is saved at once, not after the typing delay (a reload right after keeps it)', async () => {
    const storage = memorySetupStorage();
    const store = testRunSetupStore({ storage, saveDelayMs: 60_000 }).store;
    await store.getState().loadSetup();
    store.getState().setConfig({ steps: 5 }); // typing: waits for the delay
    await Promise.resolve();
    expect(storage.saves).toBe(0);
    store.getState().chooseModel({ source: 'cached', id: 'url-1', name: 'm.gguf' });
    await Promise.resolve();
    expect(storage.saves).toBe(1);
    expect(storage.saved?.config).toMatchObject({ model: { source: 'cached', id: 'url-1' }, mode: 'lora', steps: 5 });
  });

  test('a saved setup of another version, or with a task that is gone, is read as far as it goes', () => {
    expect(restoreSetup({ version: 2 } as unknown as SavedSetup)).toBeNull();
    const restored = restoreSetup({ version: 1, config: { ...config(), tasks: [{ task: 'gone', weight: 1 }, { task: 'nli', weight: 2 }] }, weights: {}, imports: [] });
    expect(restored?.config.tasks).toEqual([{ task: 'nli', weight: 2 }]);
    expect(restored?.weights.nli).toBe(2);
  });

  test('"New run from this one" reproduces a run\'s config exactly, its imported data included', () => {
    const { store, runs } = setup();
    const s = () => store.getState();
    s().openFile('capitals.jsonl', '{"q": "capital of france", "a": "paris"}\n{"q": "capital of spain", "a": "madrid"}\n');
    s().commitDraft();
    s().setConfig({ contextLength: 96, steps: 7, lr: 0.002, seed: 5, objective: 'last-answer', renameLabels: false, maxShots: 3 });
    s().setTaskWeight('arithmetic', 2.5);
    s().setLora({ rank: 4 });
    const [id] = s().createRuns('original');
    const original = runs.getState().runs.find((r) => r.id === id)!.config;

    // The form moves on: other settings, the import renamed away and another one added.
    s().reset();
    s().removeImport(s().imports[0].id);
    s().openFile('other.jsonl', '{"q": "x", "a": "y"}\n');
    s().commitDraft();
    s().loadConfig(original);
    expect(selectRunConfig(s())).toEqual(original);
    expect(s().imports.map((d) => [d.name, d.enabled])).toEqual([['other', false], ['capitals', true]]);
    const [again] = s().createRuns('again');
    expect(runs.getState().runs.find((r) => r.id === again)!.config).toEqual(original);
    // Loading it once more reuses the same import rather than adding a copy.
    s().loadConfig(original);
    expect(s().imports.map((d) => d.name)).toEqual(['other', 'capitals']);
  });
});

describe('quick demo', () => {
  test('tiny on a software adapter, larger on a real GPU; always the embedded model in full mode', () => {
    const { store } = setup();
    const s = () => store.getState();
    s().chooseModel({ source: 'cached', id: 'm', name: 'big.gguf' });
    s().setConfig({ contextLength: 2048, steps: 500 });
    s().applyQuickDemo(true);
    expect(s().config).toMatchObject({ ...QUICK_DEMO.software, model: { source: 'embedded', id: 'manyicl-tiny' }, mode: 'full', objective: 'manyicl' });
    expect(validateConfig(selectRunConfig(s())).errors).toEqual([]);
    s().applyQuickDemo(false);
    expect(s().config).toMatchObject(QUICK_DEMO.gpu);
    expect(QUICK_DEMO.gpu.steps * QUICK_DEMO.gpu.contextLength).toBeGreaterThan(QUICK_DEMO.software.steps * QUICK_DEMO.software.contextLength);
    // With no task chosen, it picks two.
    s().toggleTask('sentiment');
    s().toggleTask('arithmetic');
    s().applyQuickDemo(true);
    expect(s().config.tasks.map((t) => t.task)).toEqual(['sentiment', 'arithmetic']);
  });
});

describe('what blocks Create', () => {
  const base = { check: { errors: [], warnings: [] }, tokenizerStatus: 'ready' as const, tokenizerError: null, model: config().model, activeRun: null, noGpu: null };

  test('nothing: no blocker', () => {
    expect(createBlockers(base)).toEqual([]);
  });

  test('a model without a usable tokenizer blocks both buttons, naming the model and the reason', () => {
    const blockers = createBlockers({ ...base, tokenizerStatus: 'error', tokenizerError: 'notok.gguf: the model has no tokenizer', model: { source: 'cached', id: 'x', name: 'notok.gguf' } });
    expect(blockers).toEqual([{ message: 'notok.gguf has no usable tokenizer (notok.gguf: the model has no tokenizer), so its contexts cannot be made: choose another model.', startOnly: false }]);
    const offline = createBlockers({ ...base, tokenizerStatus: 'error', tokenizerError: 'TypeError: Failed to fetch' });
    expect(offline[0].message).toBe('The tokenizer of the model could not be fetched (TypeError: Failed to fetch): check the connection, then reload.');
  });

  test('a paused run blocks starting only, and offers to stop it', () => {
    const [blocker] = createBlockers({ ...base, activeRun: { id: 'r1', name: 'first', status: 'paused' } });
    expect(blocker.startOnly).toBe(true);
    expect(blocker.message).toMatch(/^Run "first" is paused and still holds the GPU: stop it/);
    expect(blocker.action).toEqual({ kind: 'stop-run', runId: 'r1', label: 'Stop "first"' });
    expect(createBlockers({ ...base, activeRun: { id: 'r1', name: 'first', status: 'running' } })[0].message).toMatch(/is training: one run trains at a time/);
  });

  test('config errors block both; no WebGPU blocks starting', () => {
    const blockers = createBlockers({ ...base, check: { errors: ['Steps must be a whole number of at least 1.'], warnings: [] }, noGpu: 'WebGPU is not available here.' });
    expect(blockers.map((b) => [b.startOnly, b.message])).toEqual([
      [false, 'Steps must be a whole number of at least 1.'],
      [true, 'WebGPU is not available here. Runs can be created here, but not trained.'],
    ]);
  });
});

describe('a storage that fails', () => {
  test('says so, and the form still works', async () => {
    const storage: SetupStorage = { load: async () => Promise.reject(new Error('IndexedDB is blocked')), save: async () => Promise.reject(new Error('quota exceeded')) };
    const { store } = testRunSetupStore({ storage, saveDelayMs: 0 });
    await store.getState().loadSetup();
    expect(store.getState()).toMatchObject({ setupLoaded: true, setupError: 'The saved setup could not be read: IndexedDB is blocked' });
    store.getState().setConfig({ steps: 9 });
    await store.getState().saveSetup();
    expect(store.getState().setupError).toBe('The setup could not be saved: quota exceeded');
    expect(store.getState().config.steps).toBe(9);
  });
});
