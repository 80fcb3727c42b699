// The run being set up: model, task mixture, objective and hyperparameters, imported datasets, the tokenizer
// that the context preview packs with, and what the setup shows (its check, the preview).
import { createStore as createIdbStore, get as idbGet, set as idbSet } from 'idb-keyval';
import { create } from 'zustand';
import { type ImportDraft, type ImportDraftFields, type ImportMapping, draftExamples, fileDraft, freeTaskName, hfDraft } from '../data/import-draft';
import { type CsvDelimiter, DELIMITER_NAMES, fetchHfRows as fetchHfRowsFromServer, type ImportError } from '../data/importers';
import { BUILTIN_TASKS, type Example, type TaskFamily, TASK_FAMILIES } from '../data/tasks';
import type { Tokenizer } from '../data/tokenizer';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import {
  type ContextPreview, type ImportedTask, LORA_TARGETS, type LoraTarget, type RunConfig, type SetupCheck, activationDtype, buildPreview, defaultRunConfig, parseRunConfig,
  plannedRuns, runConfigJson, validateConfig,
} from '../train/run-config';
import { errorMessage } from '../util/errors';
import { type RunsState, defaultRunName, useRunsStore } from './runs';

export { activationDtype, defaultRunConfig, DELIMITER_NAMES, LORA_TARGETS, runConfigJson, TASK_FAMILIES };
export type { ImportDraft, ImportMapping, LoraTarget, TaskFamily };

// ---- built-in tasks ---------------------------------------------------------------------------------------

export interface BuiltinTaskInfo {
  name: string;
  family: TaskFamily;
  /** One generated example, to show what the task looks like. */
  example: Example;
  /** Its answers are labels (renamed per context unless the run keeps the real ones). */
  hasLabels: boolean;
}

export const BUILTIN_TASK_INFO: readonly BuiltinTaskInfo[] = Object.entries(BUILTIN_TASKS).map(([name, make]) => {
  const source = make({ size: 1 });
  return { name, family: source.family, example: source.example(0), hasLabels: source.remapLabels };
});

/** Built-in tasks grouped by family, families in TASK_FAMILIES order. */
export function tasksByFamily(): { family: TaskFamily; tasks: BuiltinTaskInfo[] }[] {
  return TASK_FAMILIES.map((family) => ({ family, tasks: BUILTIN_TASK_INFO.filter((t) => t.family === family) })).filter(
    (group) => group.tasks.length > 0,
  );
}

// ---- imports ----------------------------------------------------------------------------------------------

export interface ImportedDataset {
  id: string;
  name: string;
  family: TaskFamily;
  /** Where it came from: a file name, or dataset/config/split on Hugging Face. */
  origin: string;
  examples: Example[];
  errors: ImportError[];
  enabled: boolean;
  weight: number;
  /** How the rows were mapped to examples (absent for a dataset that came with a run's config). */
  mapping?: ImportMapping;
  /** The field separator of a delimited file. */
  delimiter?: CsvDelimiter;
}

export interface HfForm {
  dataset: string;
  config: string;
  split: string;
  offset: number;
  length: number;
  token: string;
}

// ---- the run config ---------------------------------------------------------------------------------------

/** The config a run is created with: the form's settings plus the enabled imported datasets. */
export function runConfigWithImports(config: RunConfig, imports: readonly ImportedDataset[]): RunConfig {
  const datasets = imports.filter((d) => d.enabled).map(({ name, family, examples, weight }) => ({ name, family, examples, weight }));
  return { ...config, datasets };
}

export type { ContextPreview, SetupCheck };

// ---- the store --------------------------------------------------------------------------------------------

export type TokenizerStatus = 'idle' | 'loading' | 'ready' | 'error';

/** What survives a reload: the form, the weights of the built-in tasks, and the imported datasets. */
export interface SavedSetup {
  version: 1;
  /** The form's config; its datasets are the imports. */
  config: RunConfig;
  weights: Record<string, number>;
  imports: ImportedDataset[];
}

export interface SetupStorage {
  load(): Promise<SavedSetup | undefined>;
  save(setup: SavedSetup): Promise<void>;
}

export const SETUP_DB = 'manyicl-setup';
const SETUP_KEY = 'current';

/** The setup in IndexedDB (one entry), opened on first use so that importing works in Node. */
export function indexedDbSetupStorage(): SetupStorage {
  let opened: ReturnType<typeof createIdbStore> | null = null;
  const store = () => (opened ??= createIdbStore(SETUP_DB, 'setup'));
  return {
    load: () => idbGet<SavedSetup>(SETUP_KEY, store()),
    save: (setup) => idbSet(SETUP_KEY, setup, store()),
  };
}

/**
 * A saved setup as the form takes it: absent fields take the defaults, built-in tasks that no longer exist are
 * dropped; null for a setup of another version or one whose model, LoRA settings or tasks are not of their form.
 */
export function restoreSetup(saved: SavedSetup): Pick<SavedSetup, 'config' | 'weights' | 'imports'> | null {
  if (saved?.version !== 1 || typeof saved.config !== 'object' || saved.config === null) return null;
  const { datasets: _datasets, ...form } = { ...defaultRunConfig(), ...saved.config };
  const { model, lora, tasks } = form as Partial<RunConfig>;
  if (typeof model?.source !== 'string' || !Array.isArray(lora?.targets) || !Array.isArray(tasks)) return null;
  const config: RunConfig = { ...form, tasks: (form.tasks ?? []).filter((t) => BUILTIN_TASKS[t.task] !== undefined) };
  const imports = Array.isArray(saved.imports) ? saved.imports.filter((d) => typeof d?.name === 'string' && Array.isArray(d.examples)) : [];
  return { config, weights: { ...weightsOf(config), ...saved.weights }, imports };
}

export interface RunSetupDeps {
  fetchTokenizer(modelUrl: string): Promise<Tokenizer>;
  /** The tokenizer of a model in the model cache, by its id. */
  cachedTokenizer(id: string): Promise<Tokenizer>;
  fetchHfRows: typeof fetchHfRowsFromServer;
  /** Absolute URL of the embedded model's folder. */
  embeddedModelUrl(): string;
  /** The experiments that "Create" adds runs to. */
  runs(): Pick<RunsState, 'runs' | 'createRun' | 'startRun'>;
  /** Where the form and the imports are kept across reloads; none: they are not. */
  storage?: SetupStorage;
  /** Saves wait this long after the last change. */
  saveDelayMs?: number;
}

export interface RunSetupState {
  /** The run being set up; config.tasks holds the chosen built-in tasks. */
  config: RunConfig;
  /** The weight of every built-in task, chosen or not, so unticking and ticking again keeps it. */
  weights: Record<string, number>;
  imports: ImportedDataset[];
  draft: ImportDraft | null;
  hfForm: HfForm;
  hfStatus: 'idle' | 'loading' | 'error';
  hfError: string | null;
  tokenizerStatus: TokenizerStatus;
  tokenizerError: string | null;
  /** Not rendered; the preview packs with it. */
  tokenizer: Tokenizer | null;
  /** Whose tokenizer `tokenizer` is (tokenizerKey of the model). */
  tokenizerOf: string | null;
  /** Which context of the stream the preview shows. */
  previewIndex: number;
  /** The saved setup has been read (changes are saved from then on). */
  setupLoaded: boolean;
  /** Why the saved setup could not be read or written. */
  setupError: string | null;

  /** Reads the saved form and imports (once; later calls return at once). */
  loadSetup(): Promise<void>;
  /** Writes the form and imports now. */
  saveSetup(): Promise<void>;
  /** Small settings sized to the GPU: a run that finishes in minutes on a software adapter (`software`). */
  applyQuickDemo(software: boolean): void;

  setConfig(patch: Partial<Omit<RunConfig, 'tasks' | 'lora'>>): void;
  /** Picks the base model; the random embedded model is trained in full, a checkpoint or cached model with LoRA. */
  chooseModel(model: RunConfig['model']): void;
  setLora(patch: Partial<RunConfig['lora']>): void;
  toggleLoraTarget(target: LoraTarget): void;
  toggleTask(name: string): void;
  setTaskWeight(name: string, weight: number): void;
  /** Takes the settings of an earlier run. */
  loadConfig(config: RunConfig): void;
  /** Takes the settings of a run config file (runConfigJson); a bad file sets configFileError instead. */
  loadConfigFile(fileName: string, text: string): void;
  /** Why the last config file was refused. */
  configFileError: string | null;
  reset(): void;

  openFile(fileName: string, text: string): void;
  setHfForm(patch: Partial<HfForm>): void;
  fetchHf(): Promise<void>;
  updateDraft(patch: Partial<Pick<ImportDraftFields, 'mapping' | 'name' | 'family'>>): void;
  cancelDraft(): void;
  /** Maps the draft's rows to examples; on success it becomes an imported dataset. */
  commitDraft(): void;
  toggleImport(id: string): void;
  setImportWeight(id: string, weight: number): void;
  removeImport(id: string): void;

  loadTokenizer(): Promise<void>;
  setPreviewIndex(index: number): void;

  /**
   * Creates the runs the setup describes (one, or one per task for the dedicated baseline) and returns their
   * ids; with `start`, the first one starts training.
   */
  createRuns(name: string, options?: { start?: boolean }): string[];
}

/**
 * The imports for a run config's datasets: each one enabled with the run's weight (an import with the same name
 * and examples is reused; otherwise the run's data is added as an import), and every other import turned off,
 * so the setup's mixture is the run's.
 */
export function importsFor(datasets: readonly ImportedTask[], imports: readonly ImportedDataset[], newId: () => string): ImportedDataset[] {
  const out = imports.map((d) => ({ ...d, enabled: false }));
  for (const d of datasets) {
    const same = out.findIndex((i) => i.name === d.name && i.examples.length === d.examples.length && JSON.stringify(i.examples) === JSON.stringify(d.examples));
    if (same >= 0) out[same] = { ...out[same], family: d.family, weight: d.weight, enabled: true };
    else out.push({ id: newId(), name: d.name, family: d.family, origin: 'from a run config', examples: d.examples, errors: [], enabled: true, weight: d.weight });
  }
  return out;
}

function weightsOf(config: RunConfig): Record<string, number> {
  const weights = Object.fromEntries(BUILTIN_TASK_INFO.map((t) => [t.name, 1]));
  for (const t of config.tasks) weights[t.task] = t.weight;
  return weights;
}

const DEFAULT_HF_FORM: HfForm = { dataset: '', config: 'default', split: 'train', offset: 0, length: 200, token: '' };

/** The embedded model: what the quick demo trains. */
const EMBEDDED_MODEL: RunConfig['model'] = { source: 'embedded', id: 'manyicl-tiny' };

/**
 * The quick demo's sizes: on a software adapter (SwiftShader, llvmpipe: the GPU emulated on the CPU) a run of
 * a few minutes; on a real GPU one long enough for the per-shot curve to separate.
 */
export const QUICK_DEMO = {
  software: { contextLength: 64, batchSize: 1, gradAccumulation: 1, steps: 8, warmupSteps: 1, lr: 3e-3, checkpointEvery: 4 },
  gpu: { contextLength: 256, batchSize: 4, gradAccumulation: 1, steps: 100, warmupSteps: 10, lr: 1e-3, checkpointEvery: 10 },
} as const satisfies Record<string, Partial<RunConfig>>;

/** The tasks the quick demo picks when none is chosen. */
const QUICK_DEMO_TASKS = ['sentiment', 'arithmetic'];

export function createRunSetupStore(deps: RunSetupDeps) {
  let importCounter = 0;
  let loading: Promise<void> | null = null;
  let saveTimer: ReturnType<typeof setTimeout> | null = null;
  const store = create<RunSetupState>()((set, get) => {
    const withTasks = (chosen: Set<string>, weights: Record<string, number>): RunConfig['tasks'] =>
      BUILTIN_TASK_INFO.filter((t) => chosen.has(t.name)).map((t) => ({ task: t.name, weight: weights[t.name] ?? 1 }));

    const takenTaskNames = () => [...Object.keys(BUILTIN_TASKS), ...get().imports.map((d) => d.name)];

    const setDraftError = (error: string) => {
      const draft = get().draft;
      if (draft) set({ draft: { ...draft, error } });
    };

    const initial = defaultRunConfig();
    return {
      config: initial,
      weights: weightsOf(initial),
      imports: [],
      draft: null,
      hfForm: DEFAULT_HF_FORM,
      hfStatus: 'idle',
      hfError: null,
      tokenizerStatus: 'idle',
      tokenizerError: null,
      tokenizer: null,
      tokenizerOf: null,
      previewIndex: 0,
      configFileError: null,
      setupLoaded: false,
      setupError: null,

      async loadSetup() {
        if (loading) return loading;
        loading = (async () => {
          const before = get();
          try {
            const saved = deps.storage ? await deps.storage.load() : undefined;
            const restored = saved ? restoreSetup(saved) : null;
            // The form changed while the saved setup was read ("New run from this one", the quick demo): that wins.
            const edited = get().config !== before.config || get().weights !== before.weights || get().imports !== before.imports;
            if (restored && !edited) {
              importCounter = Math.max(importCounter, ...restored.imports.map((d) => Number(/^import-(\d+)$/.exec(d.id)?.[1] ?? 0)));
              set({ ...restored, previewIndex: 0 });
            }
            const unusable = saved && !restored ? 'The saved setup is of another version or damaged: the form shows the defaults.' : null;
            set({ setupLoaded: true, setupError: unusable });
            if (edited) void get().saveSetup();
          } catch (error) {
            set({ setupLoaded: true, setupError: `The saved setup could not be read: ${errorMessage(error)}` });
          }
        })();
        return loading;
      },

      async saveSetup() {
        if (saveTimer) clearTimeout(saveTimer);
        saveTimer = null;
        const { config, weights, imports, setupLoaded } = get();
        if (!deps.storage || !setupLoaded) return;
        const { datasets: _datasets, ...form } = config;
        try {
          await deps.storage.save({ version: 1, config: form, weights, imports });
        } catch (error) {
          set({ setupError: `The setup could not be saved: ${errorMessage(error)}` });
        }
      },

      applyQuickDemo(software) {
        const demo = software ? QUICK_DEMO.software : QUICK_DEMO.gpu;
        set((state) => {
          const config: RunConfig = { ...state.config, ...demo, model: EMBEDDED_MODEL, mode: 'full', objective: 'manyicl', maxShots: undefined };
          if (config.tasks.length === 0 && !state.imports.some((d) => d.enabled)) config.tasks = withTasks(new Set(QUICK_DEMO_TASKS), state.weights);
          return { config, previewIndex: 0 };
        });
      },

      setConfig(patch) {
        set((state) => ({ config: { ...state.config, ...patch } }));
      },

      chooseModel(model) {
        // Only the randomly initialised embedded model starts in full-parameter mode; the others are fine-tuned.
        set((state) => ({ config: { ...state.config, model, mode: model.source === 'embedded' ? 'full' : 'lora' } }));
        // A choice, not typing: saved now, so that a reload right after it keeps it.
        void get().saveSetup();
      },

      setLora(patch) {
        set((state) => ({ config: { ...state.config, lora: { ...state.config.lora, ...patch } } }));
      },

      toggleLoraTarget(target) {
        set((state) => {
          const on = new Set(state.config.lora.targets);
          if (on.has(target)) on.delete(target);
          else on.add(target);
          const targets = LORA_TARGETS.filter((t) => on.has(t));
          return { config: { ...state.config, lora: { ...state.config.lora, targets } } };
        });
      },

      toggleTask(name) {
        if (!BUILTIN_TASKS[name]) return;
        set((state) => {
          const chosen = new Set(state.config.tasks.map((t) => t.task));
          if (chosen.has(name)) chosen.delete(name);
          else chosen.add(name);
          return { config: { ...state.config, tasks: withTasks(chosen, state.weights) } };
        });
      },

      setTaskWeight(name, weight) {
        set((state) => {
          const weights = { ...state.weights, [name]: weight };
          const tasks = state.config.tasks.map((t) => (t.task === name ? { ...t, weight } : t));
          return { weights, config: { ...state.config, tasks } };
        });
      },

      loadConfig(config) {
        const { datasets = [], ...form } = structuredClone(config);
        set((state) => ({
          config: form,
          weights: weightsOf(form),
          imports: importsFor(datasets, state.imports, () => `import-${++importCounter}`),
          previewIndex: 0,
          configFileError: null,
        }));
      },

      loadConfigFile(fileName, text) {
        try {
          get().loadConfig(parseRunConfig(text, fileName));
        } catch (error) {
          set({ configFileError: errorMessage(error) });
        }
      },

      reset() {
        const config = defaultRunConfig();
        set({ config, weights: weightsOf(config), previewIndex: 0 });
      },

      openFile(fileName, text) {
        set({ draft: fileDraft(fileName, text, takenTaskNames()) });
      },

      setHfForm(patch) {
        set((state) => ({ hfForm: { ...state.hfForm, ...patch } }));
      },

      async fetchHf() {
        const form = get().hfForm;
        const dataset = form.dataset.trim();
        if (!dataset) {
          set({ hfStatus: 'error', hfError: 'Name a dataset, e.g. stanfordnlp/imdb.' });
          return;
        }
        set({ hfStatus: 'loading', hfError: null });
        try {
          const rows = await deps.fetchHfRows({
            dataset, config: form.config.trim() || 'default', split: form.split.trim() || 'train',
            offset: form.offset, length: form.length, token: form.token.trim() || undefined,
          });
          const draft = hfDraft({ dataset, config: form.config.trim() || 'default', split: form.split.trim() || 'train', offset: form.offset }, rows, takenTaskNames());
          set({ hfStatus: 'idle', draft });
        } catch (error) {
          set({ hfStatus: 'error', hfError: errorMessage(error) });
        }
      },

      updateDraft(patch) {
        const draft = get().draft;
        if (draft) set({ draft: { ...draft, ...patch, error: null } });
      },

      cancelDraft() {
        set({ draft: null });
      },

      commitDraft() {
        const draft = get().draft;
        if (!draft) return;
        const name = draft.name.trim();
        if (!name) return setDraftError('Give the dataset a name.');
        if (BUILTIN_TASKS[name] || get().imports.some((d) => d.name === name)) {
          return setDraftError(`There is already a task named ${name}: call this one ${freeTaskName(name, takenTaskNames())}, say.`);
        }
        if (draft.mapping.input.length === 0 || !draft.mapping.answer) return setDraftError('Choose the input and the answer fields.');
        let result: { examples: Example[]; errors: ImportError[]; origin: string };
        try {
          result = draftExamples(draft, name);
        } catch (error) {
          return setDraftError(errorMessage(error));
        }
        const dataset: ImportedDataset = {
          id: `import-${++importCounter}`, name, family: draft.family, origin: result.origin,
          examples: result.examples, errors: result.errors, enabled: true, weight: 1, mapping: draft.mapping,
          ...(draft.kind === 'file' && draft.format === 'csv' ? { delimiter: draft.delimiter } : {}),
        };
        set((state) => ({ imports: [...state.imports, dataset], draft: null }));
      },

      toggleImport(id) {
        set((state) => ({ imports: state.imports.map((d) => (d.id === id ? { ...d, enabled: !d.enabled } : d)) }));
      },

      setImportWeight(id, weight) {
        set((state) => ({ imports: state.imports.map((d) => (d.id === id ? { ...d, weight } : d)) }));
      },

      removeImport(id) {
        set((state) => ({ imports: state.imports.filter((d) => d.id !== id) }));
      },

      async loadTokenizer() {
        const model = get().config.model;
        const key = tokenizerKey(model);
        if (get().tokenizerOf === key && get().tokenizerStatus !== 'error') return;
        set({ tokenizerOf: key, tokenizer: null, tokenizerStatus: 'loading', tokenizerError: null });
        const stillWanted = () => get().tokenizerOf === key;
        try {
          const tokenizer = model.source === 'cached' ? await deps.cachedTokenizer(model.id) : await deps.fetchTokenizer(deps.embeddedModelUrl());
          if (stillWanted()) set({ tokenizer, tokenizerStatus: 'ready' });
        } catch (error) {
          if (stillWanted()) set({ tokenizerStatus: 'error', tokenizerError: errorMessage(error) });
        }
      },

      setPreviewIndex(index) {
        set({ previewIndex: Math.max(0, Math.floor(index)) });
      },

      createRuns(name, { start = false } = {}) {
        const runs = deps.runs();
        const config = selectRunConfig(get());
        const base = name.trim() || defaultRunName(config, runs.runs);
        const ids = plannedRuns(config).map((run) => runs.createRun(run.config, run.suffix ? `${base} · ${run.suffix}` : name));
        // One run trains at a time: start the first; the others wait in the experiments list.
        if (start) void runs.startRun(ids[0]);
        return ids;
      },
    };
  });
  // Every change of the form or the imports is saved, a moment later (typing in a field changes it per key).
  store.subscribe((state, previous) => {
    if (!deps.storage || !state.setupLoaded) return;
    if (state.config === previous.config && state.weights === previous.weights && state.imports === previous.imports) return;
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = setTimeout(() => void store.getState().saveSetup(), deps.saveDelayMs ?? 300);
  });
  // Leaving the page with a save pending (a field typed into just before): start it at once.
  globalThis.addEventListener?.('pagehide', () => {
    if (saveTimer) void store.getState().saveSetup();
  });
  return store;
}

export type RunSetupStore = ReturnType<typeof createRunSetupStore>;

/** Models that share a tokenizer share a key: the embedded model and the checkpoints trained from it. */
export function tokenizerKey(model: RunConfig['model']): string {
  return model.source === 'cached' ? `cached:${model.id}` : 'embedded';
}

/** The embedded model's folder under the app's base URL, as an absolute URL (the file reader needs one). */
export function embeddedModelUrl(): string {
  const origin = globalThis.location?.href ?? 'http://localhost/';
  return new URL(`${import.meta.env.BASE_URL}${EMBEDDED_MODEL_PATH}/`, origin).href;
}

export const useRunSetupStore = createRunSetupStore({
  // Loaded when first needed: the tokenizer code (transformers.js) stays out of the first page load.
  fetchTokenizer: async (url) => (await import('../model/load')).fetchTokenizer(url),
  cachedTokenizer: async (id) => {
    const [{ getModel }, { loadCachedTokenizer }] = await Promise.all([import('../model/sources/library'), import('../model/load-cached')]);
    const manifest = await getModel(id);
    if (!manifest) throw new Error('the model is no longer in the model cache');
    return loadCachedTokenizer(manifest);
  },
  fetchHfRows: fetchHfRowsFromServer,
  embeddedModelUrl,
  runs: () => useRunsStore.getState(),
  storage: indexedDbSetupStorage(),
});

// ---- what the setup shows ---------------------------------------------------------------------------------

/**
 * A selector that returns the same object for as long as the parts it reads are the same objects, so a
 * component that uses it re-renders (and the work is redone) only when they change.
 */
function memoSelector<S, P extends unknown[], R>(parts: (state: S) => [...P], compute: (...parts: P) => R): (state: S) => R {
  let last: { parts: P; result: R } | null = null;
  return (state) => {
    const now = parts(state);
    if (last && now.every((part, i) => Object.is(part, last!.parts[i]))) return last.result;
    last = { parts: now, result: compute(...now) };
    return last.result;
  };
}

type SetupParts = Pick<RunSetupState, 'config' | 'imports'>;
type PreviewParts = SetupParts & Pick<RunSetupState, 'tokenizer' | 'tokenizerStatus' | 'tokenizerError' | 'previewIndex'>;

/** The config the runs will be created with (the enabled imports included). */
export const selectRunConfig = memoSelector((s: SetupParts) => [s.config, s.imports], runConfigWithImports);

/** Errors that stop the runs from being created, and warnings shown beside the Create button. */
export const selectCheck = memoSelector((s: SetupParts) => [selectRunConfig(s)], validateConfig);

const packedPreview = memoSelector(
  (s: PreviewParts) => [selectRunConfig(s), s.tokenizer, s.previewIndex],
  (config, tokenizer, index): { preview: ContextPreview } | { error: string } | null => {
    if (!tokenizer) return null;
    try {
      return { preview: buildPreview(config, tokenizer, index) };
    } catch (error) {
      return { error: errorMessage(error) };
    }
  },
);

export interface PreviewView {
  preview: ContextPreview | null;
  /** Shown instead of the preview: loading, or why no context can be packed. */
  message: string | null;
}

/** The context the preview shows (context previewIndex of the setup's stream), or why there is none. */
export const selectPreview = memoSelector(
  (s: PreviewParts) => [packedPreview(s), s.tokenizerStatus, s.tokenizerError],
  (result, status, tokenizerError): PreviewView => ({
    preview: result && 'preview' in result ? result.preview : null,
    message:
      status === 'error' ? `The tokenizer could not be loaded: ${tokenizerError}` : !result ? 'Loading the tokenizer…' : 'error' in result ? result.error : null,
  }),
);

// ---- what blocks "Create" -----------------------------------------------------------------------------------

/** Something that keeps a run from being created or started, in words, with the action that clears it. */
export interface Blocker {
  message: string;
  /** Stops the run the training client holds (paused or training), so that another can start. */
  action?: { kind: 'stop-run'; runId: string; label: string };
  /** Only "Create and start" is blocked; the run can still be created. */
  startOnly: boolean;
}

export interface BlockerInputs {
  check: SetupCheck;
  tokenizerStatus: TokenizerStatus;
  tokenizerError: string | null;
  model: RunConfig['model'];
  /** The run the training client holds, if any. */
  activeRun: { id: string; name: string; status: string } | null;
  /** Why this browser cannot train (no WebGPU), if it cannot. */
  noGpu: string | null;
}

/** Why "Create" or "Create and start" is not possible now, first the reasons that block both. */
export function createBlockers({ check, tokenizerStatus, tokenizerError, model, activeRun, noGpu }: BlockerInputs): Blocker[] {
  const blockers: Blocker[] = check.errors.map((message) => ({ message, startOnly: false }));
  if (tokenizerStatus === 'error') {
    const name = model.source === 'cached' ? model.name : 'the model';
    const why = tokenizerError ?? 'it could not be loaded';
    // A lost connection is not the model's fault (the embedded model's files are fetched).
    const offline = /failed to fetch|networkerror|fetch failed|load failed/i.test(why);
    blockers.push({
      message: offline
        ? `The tokenizer of ${name} could not be fetched (${why}): check the connection, then reload.`
        : `${name} has no usable tokenizer (${why}), so its contexts cannot be made: choose another model.`,
      startOnly: false,
    });
  }
  if (activeRun) {
    const paused = activeRun.status === 'paused';
    blockers.push({
      message: paused
        ? `Run "${activeRun.name}" is paused and still holds the GPU: stop it (its checkpoint stays, and it can be continued later) to start a new run, or resume it.`
        : `Run "${activeRun.name}" is training: one run trains at a time. Stop it, or create the new run now and start it when that one is done.`,
      action: { kind: 'stop-run', runId: activeRun.id, label: `Stop "${activeRun.name}"` },
      startOnly: true,
    });
  }
  if (noGpu) blockers.push({ message: `${noGpu} Runs can be created here, but not trained.`, startOnly: true });
  return blockers;
}
