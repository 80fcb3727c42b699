// The run being set up: model, task mixture, objective and hyperparameters, imported datasets, the tokenizer
// that the context preview packs with, and what the setup shows (its check, the preview).
import { create } from 'zustand';
import { type ImportDraft, type ImportDraftFields, type ImportMapping, draftExamples, fileDraft, hfDraft } from '../data/import-draft';
import { fetchHfRows as fetchHfRowsFromServer, type ImportError } from '../data/importers';
import { BUILTIN_TASKS, type Example, type TaskFamily, TASK_FAMILIES } from '../data/tasks';
import type { Tokenizer } from '../data/tokenizer';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import {
  type ContextPreview, LORA_TARGETS, type LoraTarget, type RunConfig, type SetupCheck, buildPreview, defaultRunConfig, parseRunConfig,
  plannedRuns, runConfigJson, validateConfig,
} from '../train/run-config';
import { errorMessage } from '../util/errors';
import { type RunsState, defaultRunName, useRunsStore } from './runs';

export { defaultRunConfig, LORA_TARGETS, runConfigJson, TASK_FAMILIES };
export type { ImportDraft, ImportMapping, LoraTarget, TaskFamily };

// ---- built-in tasks ---------------------------------------------------------------------------------------

export interface BuiltinTaskInfo {
  name: string;
  family: TaskFamily;
  /** One generated example, to show what the task looks like. */
  example: Example;
}

export const BUILTIN_TASK_INFO: readonly BuiltinTaskInfo[] = Object.entries(BUILTIN_TASKS).map(([name, make]) => {
  const source = make({ size: 1 });
  return { name, family: source.family, example: source.example(0) };
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

export interface RunSetupDeps {
  fetchTokenizer(modelUrl: string): Promise<Tokenizer>;
  /** The tokenizer of a model in the model cache, by its id. */
  cachedTokenizer(id: string): Promise<Tokenizer>;
  fetchHfRows: typeof fetchHfRowsFromServer;
  /** Absolute URL of the embedded model's folder. */
  embeddedModelUrl(): string;
  /** The experiments that "Create" adds runs to. */
  runs(): Pick<RunsState, 'runs' | 'createRun' | 'startRun'>;
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

function weightsOf(config: RunConfig): Record<string, number> {
  const weights = Object.fromEntries(BUILTIN_TASK_INFO.map((t) => [t.name, 1]));
  for (const t of config.tasks) weights[t.task] = t.weight;
  return weights;
}

const DEFAULT_HF_FORM: HfForm = { dataset: '', config: 'default', split: 'train', offset: 0, length: 200, token: '' };

export function createRunSetupStore(deps: RunSetupDeps) {
  let importCounter = 0;
  return create<RunSetupState>()((set, get) => {
    const withTasks = (chosen: Set<string>, weights: Record<string, number>): RunConfig['tasks'] =>
      BUILTIN_TASK_INFO.filter((t) => chosen.has(t.name)).map((t) => ({ task: t.name, weight: weights[t.name] ?? 1 }));

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

      setConfig(patch) {
        set((state) => ({ config: { ...state.config, ...patch } }));
      },

      chooseModel(model) {
        // Only the randomly initialised embedded model starts in full-parameter mode; the others are fine-tuned.
        set((state) => ({ config: { ...state.config, model, mode: model.source === 'embedded' ? 'full' : 'lora' } }));
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
        const copy = structuredClone(config);
        set({ config: copy, weights: weightsOf(copy), previewIndex: 0, configFileError: null });
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
        set({ draft: fileDraft(fileName, text) });
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
          const draft = hfDraft({ dataset, config: form.config.trim() || 'default', split: form.split.trim() || 'train', offset: form.offset }, rows);
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
        if (BUILTIN_TASKS[name] || get().imports.some((d) => d.name === name)) return setDraftError(`There is already a task named ${name}.`);
        if (draft.mapping.input.length === 0 || !draft.mapping.answer) return setDraftError('Choose the input and the answer fields.');
        let result: { examples: Example[]; errors: ImportError[]; origin: string };
        try {
          result = draftExamples(draft, name);
        } catch (error) {
          return setDraftError(errorMessage(error));
        }
        const dataset: ImportedDataset = {
          id: `import-${++importCounter}`, name, family: draft.family, origin: result.origin,
          examples: result.examples, errors: result.errors, enabled: true, weight: 1,
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
