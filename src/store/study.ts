// The ManyICL study: its settings, the running study and its finished units, kept in IndexedDB after every unit
// so that a reload or a crash resumes it without redoing what was done. The study runs in its own worker.
import { createStore as createIdbStore, get as idbGet, set as idbSet } from 'idb-keyval';
import { create } from 'zustand';
import { BUILTIN_TASKS } from '../data/tasks';
import { DEFAULT_SHOTS } from '../eval/protocol';
import { type StudyClient, createStudyClient } from '../eval/study-client';
import { STUDY_METHODS, type StudyConfig, type StudyMethod, type StudyResult, type StudyUnit, summarize } from '../eval/study';
import type { RunConfig } from '../train/run-config';
import { selectRunConfig, useRunSetupStore } from './run-setup';
import { errorMessage } from '../util/errors';

export { STUDY_METHODS };
export type { StudyMethod, StudyResult };

export interface StudySettings {
  /** Built-in tasks outside the mixture, scored before and after training. */
  forgetting: string[];
  shots: number[];
  /** Held-out examples per task. */
  examples: number;
  maxAnswerTokens: number;
  /** Label tasks answer with their most likely label instead of generating. */
  rankLabels: boolean;
}

export const DEFAULT_STUDY_SETTINGS: StudySettings = { forgetting: ['nli'], shots: [...DEFAULT_SHOTS], examples: 20, maxAnswerTokens: 8, rankLabels: false };

export type StudyStatus = 'running' | 'done' | 'error';

export interface StudyRecord {
  id: string;
  createdAt: number;
  config: StudyConfig;
  units: StudyUnit[];
  /** Units in the study, once the worker has said. */
  total: number | null;
  status: StudyStatus;
  error?: string;
}

export interface StudyStorage {
  load(): Promise<StudyRecord | undefined>;
  save(record: StudyRecord): Promise<void>;
}

const idb = typeof indexedDB === 'undefined' ? null : createIdbStore('manyicl-studies', 'studies');

export const indexedDbStudyStorage: StudyStorage = {
  load: () => idbGet<StudyRecord>('current', idb!),
  save: (record) => idbSet('current', record, idb!),
};

export interface StudyDeps {
  storage: StudyStorage;
  /** The run setup's model, mixture and training settings. */
  setupConfig: () => RunConfig;
  createClient: () => StudyClient;
  now: () => number;
}

export interface StudyState {
  settings: StudySettings;
  study: StudyRecord | null;
  loaded: boolean;
  /** Timing of the units done since this page started the study, for the ETA. */
  timing: { startedAt: number; unitsAtStart: number } | null;
  log: string | null;
  notice: string | null;

  setSettings(patch: Partial<StudySettings>): void;
  /** Reads the saved study; one that was running when the page went away goes on where it stopped. */
  load(): Promise<void>;
  /** Starts a new study of the run setup's model, mixture and training settings. */
  start(): Promise<void>;
  /** Runs the saved study's remaining units. */
  resume(): Promise<void>;
}

/** The study a run setup and the settings describe. */
export function studyConfig(run: RunConfig, settings: StudySettings): StudyConfig {
  const forgetting = settings.forgetting.filter((task) => BUILTIN_TASKS[task] && !run.tasks.some((t) => t.task === task));
  return {
    run,
    forgetting,
    evaluation: { shots: settings.shots, examples: settings.examples, batchSize: 8, maxAnswerTokens: settings.maxAnswerTokens, rankLabels: settings.rankLabels },
  };
}

/** The settings a study was made with. */
export function settingsOf(config: StudyConfig): StudySettings {
  const { shots, examples, maxAnswerTokens, rankLabels } = config.evaluation;
  return { forgetting: config.forgetting, shots: [...(shots ?? DEFAULT_STUDY_SETTINGS.shots)], examples, maxAnswerTokens, rankLabels: rankLabels ?? false };
}

/** Why a run setup cannot be studied, or null. */
export function studyProblem(run: RunConfig): string | null {
  if (run.model.source === 'cached' && run.mode === 'full') return 'A model from the cache is studied with LoRA adapters: set the mode to LoRA.';
  if (run.tasks.length + (run.datasets?.length ?? 0) === 0) return 'Choose at least one task for the study.';
  return null;
}

/** Seconds left, from the units this page has run so far. */
export function studyEta(study: StudyRecord, timing: StudyState['timing'], now: number): number | null {
  if (!timing || study.total === null) return null;
  const done = study.units.length - timing.unitsAtStart;
  if (done <= 0) return null;
  return (((now - timing.startedAt) / done) * (study.total - study.units.length)) / 1000;
}

/** The results table as CSV: one row per task, method and shot count, with every metric field. */
export function studyCsv(result: StudyResult): string {
  const fields = [...new Set(result.table.flatMap((r) => Object.keys(r.scores)))];
  const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  const rows = result.table.map((r) => [quote(r.task), r.method, r.shots, r.score, ...fields.map((f) => r.scores[f] ?? '')].join(','));
  return [['task', 'method', 'shots', 'score', ...fields].join(','), ...rows].join('\n') + '\n';
}

/** Headline score against shot count, one series per method, for one task: [shots, ...per method]. */
export function studyCurve(result: StudyResult, task: string): { shots: number[]; methods: StudyMethod[]; series: (number | null)[][] } {
  const rows = result.table.filter((r) => r.task === task);
  const shots = [...new Set(rows.map((r) => r.shots))].sort((a, b) => a - b);
  const methods = STUDY_METHODS.filter((m) => rows.some((r) => r.method === m));
  const series = methods.map((m) => shots.map((k) => rows.find((r) => r.method === m && r.shots === k)?.score ?? null));
  return { shots, methods, series };
}

export function createStudyStore(deps: StudyDeps) {
  let client: StudyClient | null = null;
  let writes: Promise<void> = Promise.resolve();

  return create<StudyState>()((set, get) => {
    const save = (record: StudyRecord) => {
      writes = writes.then(() => deps.storage.save(record)).catch((error) => set({ notice: `Could not save the study: ${errorMessage(error)}` }));
      return writes;
    };
    const update = (change: (record: StudyRecord) => StudyRecord) => {
      const study = get().study;
      if (!study) return;
      const next = change(study);
      set({ study: next });
      void save(next);
    };

    const run = async () => {
      const study = get().study;
      if (!study) return;
      client ??= deps.createClient();
      set({ timing: { startedAt: deps.now(), unitsAtStart: study.units.length }, log: null });
      update((r) => ({ ...r, status: 'running', error: undefined }));
      await client.run(study.config, study.units, (event) => {
        switch (event.type) {
          case 'unit':
            update((r) => (r.units.some((u) => u.key === event.unit.key) ? r : { ...r, units: [...r.units, event.unit] }));
            break;
          case 'progress':
            update((r) => ({ ...r, total: event.total }));
            break;
          case 'log':
            set({ log: event.line });
            break;
          case 'status':
            update((r) => ({ ...r, status: event.status, ...(event.message ? { error: event.message } : {}) }));
            break;
        }
      });
      await writes;
    };

    return {
      settings: DEFAULT_STUDY_SETTINGS,
      study: null,
      loaded: false,
      timing: null,
      log: null,
      notice: null,

      setSettings: (patch) => set((state) => ({ settings: { ...state.settings, ...patch } })),

      load: async () => {
        try {
          const study = (await deps.storage.load()) ?? null;
          set({ study, loaded: true, ...(study ? { settings: settingsOf(study.config) } : {}) });
          if (study?.status === 'running') await run();
        } catch (error) {
          set({ loaded: true, notice: `Could not read the saved study: ${errorMessage(error)}` });
        }
      },

      start: async () => {
        if (get().study?.status === 'running') return;
        const runConfig = deps.setupConfig();
        const problem = studyProblem(runConfig);
        if (problem) {
          set({ notice: problem });
          return;
        }
        const now = deps.now();
        const study: StudyRecord = {
          id: `study-${now.toString(36)}`, createdAt: now, config: studyConfig(runConfig, get().settings), units: [], total: null, status: 'running',
        };
        set({ study, notice: null });
        await save(study);
        await run();
      },

      resume: async () => {
        if (get().study?.status === 'running' && client) return;
        await run();
      },
    };
  });
}

export type StudyStore = ReturnType<typeof createStudyStore>;

let studyWorker: StudyClient | null = null;
/** The one study worker of the page, started on first use: the study and the playground share it. */
export const studyWorkerClient = (): StudyClient => (studyWorker ??= createStudyClient());

export const useStudyStore = createStudyStore({
  storage: indexedDbStudyStorage,
  createClient: studyWorkerClient,
  setupConfig: () => selectRunConfig(useRunSetupStore.getState()),
  now: () => Date.now(),
});

/** The results of the units done so far. */
export function studyResult(study: StudyRecord): StudyResult {
  return summarize(study.units);
}
