// The models cached in this browser (src/model/sources/library.ts): the list, the one download or import
// running at a time with its progress, the last error, the storage estimate, and the Hub token, which is
// kept in this browser's localStorage and sent only to the Hub.
import { get as idbGet, set as idbSet } from 'idb-keyval';
import { create } from 'zustand';
import { isCancelled } from '../model/sources/download';
import { requestPersistentStorage } from '../model/sources/cache';
import { type AddModelOptions, type CachedModel, type HubModelSource, type ModelLibrary, modelLibrary } from '../model/sources/library';
import { errorMessage } from '../util/errors';
import type { PlanLimits } from '../engine/plan';
import { type SetupPlan, setupPlan as planSetup } from '../model/plan-cached';
import { type RunConfig, activationDtype } from '../train/run-config';

export type { SetupPlan } from '../model/plan-cached';

/** The memory plan of the setup's run, with the activations the run will use. */
export function setupPlan(config: RunConfig, limits: PlanLimits | undefined): Promise<SetupPlan> {
  return planSetup(config, limits, activationDtype(config));
}

export type LibraryApi = Pick<ModelLibrary, 'list' | 'delete' | 'addHubModel' | 'addUrlModel' | 'addLocalFiles'>;

/** The part of localStorage the token uses. */
export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface ModelsDeps {
  library: LibraryApi;
  /** null where there is no localStorage: the token then lasts until the page closes. */
  tokenStorage: TokenStorage | null;
  estimateStorage(): Promise<StorageUse | null>;
  /** Asks the browser not to evict the cache under storage pressure. */
  requestPersistence(): Promise<boolean>;
  /** Loads a cached model's tokenizer (the context preview's and the worker's); throws when it has no usable one. */
  checkTokenizer?(model: CachedModel): Promise<void>;
  /** Where the checks' results are kept (by model and when it was added), so that each model is checked once. */
  tokenizerChecks?: TokenizerCheckStorage;
}

/** Results of tokenizer checks: the problem, or null for a usable tokenizer, by tokenizerCheckKey. */
export interface TokenizerCheckStorage {
  load(): Promise<Record<string, string | null>>;
  save(checks: Record<string, string | null>): Promise<void>;
}

const tokenizerCheckKey = (model: CachedModel) => `${model.id}@${model.addedAt}`;

export interface StorageUse {
  usage: number;
  quota: number;
}

/** The download or import under way. */
export interface ModelTransfer {
  /** What is being added, e.g. `TinyLlama/TinyLlama-1.1B-Chat-v1.0`. */
  label: string;
  /** The file being transferred, with its place among them, e.g. `model.safetensors (2 of 3)`; '' while looking the files up. */
  file: string;
  loaded: number;
  /** 0 while unknown. */
  total: number;
  bytesPerSecond: number;
  /** Infinity while unknown. */
  etaSeconds: number;
  cancel(): void;
}

export interface HubForm {
  repo: string;
  revision: string;
  file: string;
}

export interface ModelsState {
  models: CachedModel[];
  /** The list has been read once. */
  loaded: boolean;
  storage: StorageUse | null;
  transfer: ModelTransfer | null;
  error: string | null;
  /** A plain-words outcome that is not an error: added, cancelled, deleted. */
  notice: string | null;
  hubToken: string;
  /** Why a cached model's tokenizer cannot be used, by model id: such a model cannot train a run. */
  tokenizerProblems: Record<string, string>;

  /** Reads the list of cached models and the storage estimate again. */
  refresh(): Promise<void>;
  /** Each returns the added model, or null when it failed or was cancelled (see error and notice). */
  addFromHub(form: HubForm): Promise<CachedModel | null>;
  addFromUrl(url: string): Promise<CachedModel | null>;
  addFromFiles(files: File[], name?: string): Promise<CachedModel | null>;
  deleteModel(id: string): Promise<void>;
  cancel(): void;
  setHubToken(token: string): void;
  forgetHubToken(): void;
  dismiss(): void;
}

export const HUB_TOKEN_KEY = 'manyicl-hub-token';

export function createModelsStore(deps: ModelsDeps) {
  const readToken = () => {
    try {
      return deps.tokenStorage?.getItem(HUB_TOKEN_KEY) ?? '';
    } catch {
      return '';
    }
  };
  const writeToken = (token: string) => {
    try {
      if (token) deps.tokenStorage?.setItem(HUB_TOKEN_KEY, token);
      else deps.tokenStorage?.removeItem(HUB_TOKEN_KEY);
    } catch {
      // storage blocked: the token stays in memory only
    }
  };

  return create<ModelsState>()((set, get) => {
    let checks: Promise<Record<string, string | null>> | null = null;
    /**
     * Flags the models without a usable tokenizer. Each model's tokenizer is loaded once, when it is added (or first
     * listed), and the result kept: a page load does not build every cached model's tokenizer again.
     */
    const checkTokenizers = async (models: readonly CachedModel[]): Promise<void> => {
      if (!deps.checkTokenizer) return;
      checks ??= deps.tokenizerChecks?.load().catch(() => ({})) ?? Promise.resolve({});
      const results = await checks;
      let changed = false;
      for (const model of models) {
        const key = tokenizerCheckKey(model);
        if (!(key in results)) {
          results[key] = await deps.checkTokenizer(model).then(() => null, (error: unknown) => errorMessage(error));
          changed = true;
        }
        const problem = results[key];
        if (problem !== null) set((state) => ({ tokenizerProblems: { ...state.tokenizerProblems, [model.id]: problem } }));
      }
      if (changed) {
        const listed = new Set(get().models.map(tokenizerCheckKey));
        for (const model of models) listed.add(tokenizerCheckKey(model));
        const kept = Object.fromEntries(Object.entries(results).filter(([key]) => listed.has(key)));
        await deps.tokenizerChecks?.save(kept).catch(() => undefined); // unsaved: checked again on the next load
      }
    };

    /** Runs one add with progress and cancel; refuses while another runs. */
    const runAdd = async (label: string, add: (options: AddModelOptions) => Promise<CachedModel>): Promise<CachedModel | null> => {
      if (get().transfer) {
        set({ error: 'A model is already being added: wait for it, or cancel it.' });
        return null;
      }
      const controller = new AbortController();
      const cancel = () => controller.abort();
      set({
        transfer: { label, file: '', loaded: 0, total: 0, bytesPerSecond: 0, etaSeconds: Infinity, cancel },
        error: null,
        notice: null,
      });
      void deps.requestPersistence().catch(() => false);
      try {
        const model = await add({
          signal: controller.signal,
          onProgress: (p) =>
            set({
              transfer: {
                label,
                file: p.fileCount > 1 ? `${p.file} (${p.fileIndex} of ${p.fileCount})` : p.file,
                loaded: p.loaded,
                total: p.total,
                bytesPerSecond: p.bytesPerSecond,
                etaSeconds: p.etaSeconds,
                cancel,
              },
            }),
        });
        // A model without a usable tokenizer is added, and flagged (tokenizerProblems) before the add is reported.
        await checkTokenizers([model]);
        set({ transfer: null, error: null, notice: `Added ${model.name}.` });
        await get().refresh();
        return model;
      } catch (error) {
        if (isCancelled(error)) set({ transfer: null, notice: `Cancelled: ${label} was not added.` });
        else set({ transfer: null, error: `Could not add ${label}: ${errorMessage(error)}` });
        await get().refresh();
        return null;
      }
    };

    return {
      models: [],
      loaded: false,
      storage: null,
      transfer: null,
      error: null,
      notice: null,
      hubToken: readToken(),
      tokenizerProblems: {},

      async refresh() {
        try {
          const [models, storage] = await Promise.all([deps.library.list(), deps.estimateStorage().catch(() => null)]);
          set({ models, storage, loaded: true });
          void checkTokenizers(models);
        } catch (error) {
          set({ loaded: true, error: `Could not read the cached models: ${errorMessage(error)}` });
        }
      },

      addFromHub(form) {
        const repo = form.repo.trim();
        if (!repo) {
          set({ error: 'Name a Hub repository, e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0.', notice: null });
          return Promise.resolve(null);
        }
        const source: HubModelSource = {
          repo,
          revision: form.revision.trim() || 'main',
          ...(form.file.trim() && { file: form.file.trim() }),
          ...(get().hubToken.trim() && { token: get().hubToken.trim() }),
        };
        const label = source.file ? `${repo}: ${source.file}` : repo;
        return runAdd(label, (options) => deps.library.addHubModel(source, options));
      },

      addFromUrl(url) {
        const trimmed = url.trim();
        if (!trimmed) {
          set({ error: 'Give the URL of a .gguf file, a .safetensors file or a model folder.', notice: null });
          return Promise.resolve(null);
        }
        const label = decodeURIComponent(trimmed.replace(/[?#].*$/, '').replace(/\/+$/, '').split('/').pop() || trimmed);
        return runAdd(label, (options) => deps.library.addUrlModel(trimmed, options));
      },

      addFromFiles(files, name) {
        if (files.length === 0) {
          set({ error: 'Choose the model files: a .gguf, or .safetensors with config.json and tokenizer.json.', notice: null });
          return Promise.resolve(null);
        }
        const label = name ?? (files.length === 1 ? files[0].name : `${files.length} files`);
        return runAdd(label, (options) => deps.library.addLocalFiles(files, { ...options, ...(name && { name }) }));
      },

      async deleteModel(id) {
        const model = get().models.find((m) => m.id === id);
        try {
          await deps.library.delete(id);
          const { [id]: _gone, ...tokenizerProblems } = get().tokenizerProblems;
          set({ error: null, notice: model ? `Deleted ${model.name}.` : null, tokenizerProblems });
        } catch (error) {
          set({ error: `Could not delete ${model?.name ?? 'the model'}: ${errorMessage(error)}`, notice: null });
        }
        await get().refresh();
      },

      cancel() {
        get().transfer?.cancel();
      },

      setHubToken(token) {
        writeToken(token.trim());
        set({ hubToken: token });
      },

      forgetHubToken() {
        writeToken('');
        set({ hubToken: '', notice: 'The Hub token was removed from this browser.' });
      },

      dismiss() {
        set({ error: null, notice: null });
      },
    };
  });
}

export type ModelsStore = ReturnType<typeof createModelsStore>;

function browserTokenStorage(): TokenStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // localStorage access can throw (blocked storage)
  }
}

async function estimateBrowserStorage(): Promise<StorageUse | null> {
  const estimate = await globalThis.navigator?.storage?.estimate?.();
  if (!estimate || estimate.quota === undefined) return null;
  return { usage: estimate.usage ?? 0, quota: estimate.quota };
}

const TOKENIZER_CHECKS_KEY = 'manyicl-tokenizer-checks';

export const useModelsStore = createModelsStore({
  // The library opens IndexedDB on first use, not when this module is imported.
  library: {
    list: () => modelLibrary().list(),
    delete: (id) => modelLibrary().delete(id),
    addHubModel: (source, options) => modelLibrary().addHubModel(source, options),
    addUrlModel: (url, options) => modelLibrary().addUrlModel(url, options),
    addLocalFiles: (files, options) => modelLibrary().addLocalFiles(files, options),
  },
  tokenStorage: browserTokenStorage(),
  estimateStorage: estimateBrowserStorage,
  requestPersistence: requestPersistentStorage,
  // Loaded when first needed: the tokenizer code (transformers.js) stays out of the first page load.
  checkTokenizer: async (model) => void (await (await import('../model/load-cached')).loadCachedTokenizer(model)),
  tokenizerChecks: {
    load: async () => (await idbGet<Record<string, string | null>>(TOKENIZER_CHECKS_KEY)) ?? {},
    save: (checks) => idbSet(TOKENIZER_CHECKS_KEY, checks),
  },
});
