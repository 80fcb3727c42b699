// Experiments: every run's record (config, status, metrics, latest sample), kept in IndexedDB so a reload
// loses nothing, and the one training client that runs them, one at a time.
import { createStore as createIdbStore, del, set as idbSet, values as idbValues } from 'idb-keyval';
import { create } from 'zustand';
import { createTrainingClient, type TrainingClient } from '../train/client';
import { deleteCheckpoint } from '../train/checkpoints';
import { deleteInitialAdapter } from '../train/initial-adapter';
import type { RunRecord, RunStatus, TrainEvent } from '../train/protocol';
import { type RunConfig, describeModel } from '../train/run-config';
import { errorMessage } from '../util/errors';

// ---- pure reducers ----------------------------------------------------------------------------------------

export function newRunRecord(config: RunConfig, meta: { id: string; name: string; createdAt: number }): RunRecord {
  return { ...meta, config, status: 'idle', metrics: [] };
}

/** Steps done: the step of the newest metrics (steps are 1-based). */
export function stepsDone(record: RunRecord): number {
  return record.metrics.length > 0 ? record.metrics[record.metrics.length - 1].step : 0;
}

/**
 * Applies worker events in order. A step event replaces any metrics from that step on, so a run resumed from
 * a checkpoint that re-emits steps does not record them twice. Progress events are transient: not recorded.
 */
export function applyEvents(record: RunRecord, events: readonly TrainEvent[]): RunRecord {
  if (events.length === 0) return record;
  const next: RunRecord = { ...record };
  let metrics = record.metrics;
  let copied = false;
  for (const event of events) {
    switch (event.type) {
      case 'status':
        next.status = event.status;
        if (event.status === 'error') next.error = event.message ?? 'training failed';
        else if (event.status === 'loading' || event.status === 'running') delete next.error;
        break;
      case 'step': {
        if (!copied) {
          metrics = metrics.slice();
          copied = true;
        }
        const step = event.metrics.step;
        while (metrics.length > 0 && metrics[metrics.length - 1].step >= step) metrics.pop();
        metrics.push(event.metrics);
        break;
      }
      case 'sample':
        next.sample = event.sample;
        break;
      case 'checkpoint':
        next.checkpointStep = event.step;
        break;
      case 'progress':
        break;
    }
  }
  next.metrics = metrics;
  return next;
}

export function applyEvent(record: RunRecord, event: TrainEvent): RunRecord {
  return applyEvents(record, [event]);
}

const LIVE_STATUSES: readonly RunStatus[] = ['loading', 'running'];

/**
 * A record as found after a reload: nothing trains any more, so a run that was loading or running becomes
 * 'paused' when it has a checkpoint to go on from, else 'stopped'.
 */
export function recoverRun(record: RunRecord): RunRecord {
  if (!LIVE_STATUSES.includes(record.status)) return record;
  return { ...record, status: record.checkpointStep !== undefined ? 'paused' : 'stopped' };
}

/**
 * A record about to (re)start: the worker goes on from the checkpoint, so metrics after the checkpoint step
 * are dropped (they will be recomputed); without a checkpoint the run starts over.
 */
export function prepareStart(record: RunRecord): RunRecord {
  const from = record.checkpointStep ?? 0;
  const metrics = record.metrics.filter((m) => m.step <= from);
  const sample = record.sample && record.sample.step <= from ? record.sample : undefined;
  const next: RunRecord = { ...record, status: 'loading', metrics, sample };
  delete next.error;
  if (next.sample === undefined) delete next.sample;
  return next;
}

/** After the worker's start() has returned: a run that did not report its end is stopped. */
export function settleRun(record: RunRecord): RunRecord {
  if (record.status === 'loading' || record.status === 'running' || record.status === 'paused') {
    return { ...record, status: 'stopped' };
  }
  return record;
}

export interface RunControls {
  start: boolean;
  pause: boolean;
  resume: boolean;
  stop: boolean;
  /** Text of the start button: 'Start', or 'Continue from step N' when there is a checkpoint. */
  startLabel: string;
}

/**
 * Which buttons a run offers. `activeId` is the run the training client has; only one trains at a time.
 * A run that another tab trains (`elsewhere`) offers none: that tab has it.
 */
export function runControls(record: RunRecord, activeId: string | null, elsewhere = false): RunControls {
  const startLabel = record.checkpointStep !== undefined && record.checkpointStep > 0 && record.status !== 'idle' ? `Continue from step ${record.checkpointStep}` : 'Start';
  if (elsewhere) return { start: false, pause: false, resume: false, stop: false, startLabel };
  const live = activeId === record.id;
  const busy = activeId !== null && !live;
  const { status } = record;
  return {
    start: !live && !busy && (status === 'idle' || status === 'stopped' || status === 'error'),
    pause: live && status === 'running',
    resume: status === 'paused' && (live || !busy),
    stop: live ? status === 'running' || status === 'paused' || status === 'loading' : status === 'paused',
    startLabel,
  };
}

/** "running · step 12/100" */
export function statusLine(record: RunRecord): string {
  return `${record.status} · step ${stepsDone(record)}/${record.config.steps}`;
}

/** The run's data: its built-in tasks and its imported datasets (marked), e.g. "sentiment, reviews (imported)". */
export function runData(config: RunConfig): string {
  const names = [...config.tasks.map((t) => t.task), ...(config.datasets ?? []).map((d) => `${d.name} (imported)`)];
  return names.length > 0 ? names.join(', ') : 'no tasks';
}

/** "manyicl · LoRA r8 · manyicl-tiny · sentiment, arithmetic · 256 tokens": what the run trains, and how. */
export function runMeta(record: RunRecord): string {
  const { config } = record;
  const mode = config.mode === 'lora' ? `LoRA r${config.lora.rank}` : 'full-parameter';
  return `${config.objective} · ${mode} · ${describeModel(config.model)} · ${runData(config)} · ${config.contextLength} tokens`;
}

/** What a (re)start throws away: the steps after the checkpoint it goes on from, said in words; null when none. */
export function rollbackNotice(record: RunRecord): string | null {
  const from = record.checkpointStep ?? 0;
  const last = stepsDone(record);
  if (last <= from) return null;
  const redone = last === from + 1 ? `step ${last} is` : `steps ${from + 1}–${last} are`;
  return from > 0
    ? `Run "${record.name}" goes on from its checkpoint at step ${from}: ${redone} trained again (the checkpoint is saved every ${record.config.checkpointEvery} steps).`
    : `Run "${record.name}" had no checkpoint: it starts over, and ${redone} trained again.`;
}

/** "manyicl · lora #3": the objective and mode, numbered among the runs. */
export function defaultRunName(config: RunConfig, existing: readonly RunRecord[]): string {
  const base = `${config.objective} · ${config.mode}`;
  let n = 1;
  const names = new Set(existing.map((r) => r.name));
  while (names.has(`${base} #${n}`)) n++;
  return `${base} #${n}`;
}

/** Newest first. */
export function sortRuns(runs: readonly RunRecord[]): RunRecord[] {
  return runs.slice().sort((a, b) => b.createdAt - a.createdAt);
}

// ---- storage ----------------------------------------------------------------------------------------------

export interface RunStorage {
  loadAll(): Promise<RunRecord[]>;
  save(record: RunRecord): Promise<void>;
  remove(id: string): Promise<void>;
}

export const RUNS_DB = 'manyicl-workbench';
export const RUNS_STORE = 'runs';

/** One IndexedDB entry per run, keyed by run id. Opened on first use, so importing works in Node. */
export function indexedDbRunStorage(): RunStorage {
  let opened: ReturnType<typeof createIdbStore> | null = null;
  const store = () => (opened ??= createIdbStore(RUNS_DB, RUNS_STORE));
  return {
    loadAll: () => idbValues<RunRecord>(store()),
    save: (record) => idbSet(record.id, record, store()),
    remove: (id) => del(id, store()),
  };
}

// ---- tabs ----------------------------------------------------------------------------------------------

/** What a tab that trains a run tells the others. */
export type TabMessage = { type: 'training'; runId: string } | { type: 'event'; runId: string; event: TrainEvent };

/** Other tabs of the app: one of them at most trains a given run (a lock per run), and tells the rest. */
export interface RunTabs {
  /** Runs `train` holding the run's lock; resolves false at once, without running it, when another tab holds it. */
  withLock(runId: string, train: () => Promise<void>): Promise<boolean>;
  /** The runs whose lock some tab holds (this one included). */
  locked(): Promise<string[]>;
  /** Resolves when no tab holds the run's lock. */
  whenFree(runId: string): Promise<void>;
  post(message: TabMessage): void;
  subscribe(listener: (message: TabMessage) => void): void;
}

const LOCK_PREFIX = 'manyicl-run-';

/** Web Locks (`manyicl-run-<id>`) and a BroadcastChannel; where either is missing, this tab is alone. */
export function browserRunTabs(): RunTabs {
  const locks = globalThis.navigator?.locks;
  // Pages only: Node has BroadcastChannel too, and a listening one would keep a process alive.
  const channel = typeof window === 'undefined' || typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('manyicl-runs');
  return {
    async withLock(runId, train) {
      if (!locks) {
        await train();
        return true;
      }
      return locks.request(LOCK_PREFIX + runId, { ifAvailable: true }, async (lock) => {
        if (!lock) return false;
        await train();
        return true;
      });
    },
    async locked() {
      const held = locks ? ((await locks.query()).held ?? []) : [];
      return held.flatMap((l) => (l.name?.startsWith(LOCK_PREFIX) ? [l.name.slice(LOCK_PREFIX.length)] : []));
    },
    async whenFree(runId) {
      // A shared request waits for the exclusive holder to let go; it is released at once.
      if (locks) await locks.request(LOCK_PREFIX + runId, { mode: 'shared' }, () => undefined);
    },
    post: (message) => channel?.postMessage(message),
    subscribe: (listener) => channel?.addEventListener('message', (e: MessageEvent<TabMessage>) => listener(e.data)),
  };
}

/** A tab on its own: for tests and Node. */
export const singleTab: RunTabs = {
  withLock: async (_id, train) => {
    await train();
    return true;
  },
  locked: async () => [],
  whenFree: async () => {},
  post: () => {},
  subscribe: () => {},
};

// ---- the store --------------------------------------------------------------------------------------------

export interface RunsDeps {
  storage: RunStorage;
  createClient(): TrainingClient;
  deleteCheckpoint(runId: string): Promise<void>;
  now(): number;
  newId(): string;
  /** Metrics are written at most this often while a run trains; status changes and checkpoints at once. */
  persistDelayMs: number;
  /** Step and sample events are applied to the store in batches this often (0: at once). */
  eventBatchMs: number;
  /** Other tabs; default: none. */
  tabs?: RunTabs;
}

export interface RunProgress {
  runId: string;
  label: string;
  done: number;
  total: number;
}

export interface RunsState {
  /** Newest first. */
  runs: RunRecord[];
  loaded: boolean;
  loadError: string | null;
  /** The run the dashboard shows. */
  selectedId: string | null;
  /** Runs ticked for the comparison view, in the order they were ticked. */
  compareIds: string[];
  /** The run the training client has (training, loading or paused in the worker). */
  activeId: string | null;
  /** Runs that another tab trains: this tab follows their progress and leaves them alone. */
  elsewhere: string[];
  /** A pause or stop asked of the active run and not yet answered. */
  request: 'pause' | 'stop' | null;
  /** Loading progress of the active run. */
  progress: RunProgress | null;
  /** A message for the user about the last action (e.g. why a run could not start). */
  notice: string | null;

  loadRuns(): Promise<void>;
  /** Adds an idle run, selects it and returns its id; `imported` marks a run whose step-0 checkpoint is an imported adapter. */
  createRun(config: RunConfig, name?: string, imported?: { from: string }): string;
  /** Trains a run (from its checkpoint when it has one); resolves when it ends, stops or fails. */
  startRun(id: string): Promise<void>;
  pauseRun(id: string): Promise<void>;
  /** Resumes a paused run: in the worker if it is there, else from its checkpoint. */
  resumeRun(id: string): Promise<void>;
  stopRun(id: string): Promise<void>;
  /** Removes a run, its record and its checkpoint (stopping it first if it trains). */
  deleteRun(id: string): Promise<void>;
  renameRun(id: string, name: string): void;
  selectRun(id: string | null): void;
  toggleCompare(id: string): void;
  setCompare(ids: string[]): void;
  dismissNotice(): void;
  /** Writes every pending change to storage. */
  flush(): Promise<void>;
}

export function createRunsStore(deps: RunsDeps) {
  let client: TrainingClient | null = null;
  let running: Promise<void> | null = null;
  const dirty = new Set<string>();
  let persistTimer: ReturnType<typeof setTimeout> | null = null;
  let writes: Promise<void> = Promise.resolve();
  const queued = new Map<string, TrainEvent[]>();
  let batchTimer: ReturnType<typeof setTimeout> | null = null;

  const tabs = deps.tabs ?? singleTab;

  const store = create<RunsState>()((set, get) => {
    const find = (id: string) => get().runs.find((r) => r.id === id);
    const isElsewhere = (id: string) => get().elsewhere.includes(id);
    const elsewhereNotice = (id: string) => set({ notice: `Run "${find(id)?.name ?? id}" is training in another tab; it can be controlled there.` });

    const update = (id: string, change: (record: RunRecord) => RunRecord) => {
      set((state) => ({ runs: state.runs.map((r) => (r.id === id ? change(r) : r)) }));
    };

    // Writes go through one chain, so they land in order; each writes the record as it is when its turn comes.
    const write = (id: string) => {
      dirty.delete(id);
      writes = writes.then(async () => {
        const record = find(id);
        if (!record) return;
        try {
          await deps.storage.save(record);
        } catch (error) {
          set({ notice: `Could not save run ${record.name}: ${errorMessage(error)}` });
        }
      });
      return writes;
    };

    const persistSoon = (id: string) => {
      dirty.add(id);
      persistTimer ??= setTimeout(() => {
        persistTimer = null;
        for (const dirtyId of [...dirty]) void write(dirtyId);
      }, deps.persistDelayMs);
    };

    const applyQueued = () => {
      if (batchTimer) clearTimeout(batchTimer);
      batchTimer = null;
      for (const [id, events] of queued) {
        queued.delete(id);
        update(id, (r) => applyEvents(r, events));
        persistSoon(id);
      }
    };

    /** The status a run will have once its queued events are applied. */
    const pendingStatus = (id: string): RunStatus | undefined => {
      const events = queued.get(id) ?? [];
      for (let i = events.length - 1; i >= 0; i--) {
        const event = events[i];
        if (event.type === 'status') return event.status;
      }
      return find(id)?.status;
    };

    const onEvent = (id: string, event: TrainEvent) => {
      if (event.type !== 'progress') tabs.post({ type: 'event', runId: id, event });
      if (event.type === 'progress') {
        set({ progress: { runId: id, label: event.label, done: event.done, total: event.total } });
        return;
      }
      // The worker repeats 'running' every step: only a change of status is urgent.
      const urgent = event.type === 'checkpoint' || (event.type === 'status' && event.status !== pendingStatus(id));
      const list = queued.get(id) ?? [];
      list.push(event);
      queued.set(id, list);
      if (!urgent) {
        if (deps.eventBatchMs <= 0) applyQueued();
        else batchTimer ??= setTimeout(applyQueued, deps.eventBatchMs);
        return;
      }
      // Status changes and checkpoints show and are saved at once.
      applyQueued();
      if (event.type === 'status') {
        const ended = event.status === 'stopped' || event.status === 'done' || event.status === 'error';
        const answered = ended || (get().request === 'pause' && event.status === 'paused');
        set({ request: answered ? null : get().request, progress: event.status === 'loading' ? get().progress : null });
      }
      void write(id);
    };

    /**
     * Another tab trains the run: this one shows its events (without saving them: that tab does) until the
     * tab lets go of the run's lock, then reads the record that tab saved.
     */
    const follow = (id: string) => {
      if (isElsewhere(id) || get().activeId === id) return;
      set((state) => ({ elsewhere: [...state.elsewhere, id] }));
      void tabs.whenFree(id).then(async () => {
        const stored = (await deps.storage.loadAll().catch(() => [])).find((r) => r.id === id);
        const recovered = stored && recoverRun(stored); // that tab may have closed while training
        set((state) => ({
          elsewhere: state.elsewhere.filter((e) => e !== id),
          runs: recovered ? state.runs.map((r) => (r.id === id ? recovered : r)) : state.runs,
        }));
        if (recovered && recovered !== stored) void write(id);
      });
    };

    tabs.subscribe((message) => {
      const id = message.runId;
      if (get().activeId === id) return;
      if (message.type === 'training') {
        // That tab has just saved the record as it starts (possibly a run created after this tab loaded).
        void deps.storage.loadAll().then((stored) => {
          const record = stored.find((r) => r.id === id);
          if (!record) return;
          set((state) => ({ runs: sortRuns([record, ...state.runs.filter((r) => r.id !== id)]) }));
          follow(id);
        }, () => {});
        return;
      }
      if (!find(id)) return;
      follow(id);
      update(id, (r) => applyEvent(r, message.event));
    });

    const train = async (id: string) => {
      const got = await tabs.withLock(id, () => trainLocked(id));
      if (!got) {
        set({ activeId: null });
        follow(id);
        elsewhereNotice(id);
      }
    };

    const trainLocked = async (id: string) => {
      const record = find(id);
      if (!record) return set({ activeId: null });
      update(id, prepareStart);
      set({ activeId: id, request: null, progress: null, notice: rollbackNotice(record) });
      await write(id);
      tabs.post({ type: 'training', runId: id });
      try {
        client ??= deps.createClient();
        await client.start({ id, config: record.config }, (event) => onEvent(id, event));
      } catch (error) {
        applyQueued();
        update(id, (r) => applyEvent(r, { type: 'status', status: 'error', message: errorMessage(error) }));
        // A client that failed may be broken (a crashed worker): the next run gets a fresh one.
        client?.dispose();
        client = null;
      } finally {
        applyQueued();
        update(id, settleRun);
        set({ activeId: null, request: null, progress: null });
        await write(id);
      }
    };

    return {
      runs: [],
      loaded: false,
      loadError: null,
      selectedId: null,
      compareIds: [],
      activeId: null,
      elsewhere: [],
      request: null,
      progress: null,
      notice: null,

      async loadRuns() {
        let stored: RunRecord[];
        try {
          stored = await deps.storage.loadAll();
        } catch (error) {
          set({ loaded: true, loadError: `Could not read the saved runs: ${errorMessage(error)}` });
          return;
        }
        // A run another tab trains is left as that tab saved it, and followed.
        const locked = new Set(await tabs.locked().catch(() => [] as string[]));
        const trainedElsewhere = (id: string) => locked.has(id) && get().activeId !== id;
        const recovered = stored.map((r) => (trainedElsewhere(r.id) ? r : recoverRun(r)));
        const changed = recovered.filter((r, i) => r !== stored[i]);
        set((state) => {
          const known = new Set(recovered.map((r) => r.id));
          const runs = sortRuns([...recovered, ...state.runs.filter((r) => !known.has(r.id))]);
          const selectedId = state.selectedId ?? runs[0]?.id ?? null;
          return { runs, loaded: true, loadError: null, selectedId };
        });
        for (const r of stored) if (trainedElsewhere(r.id)) follow(r.id);
        await Promise.all(changed.map((r) => write(r.id)));
      },

      createRun(config, name, imported) {
        const id = deps.newId();
        const record = newRunRecord(structuredClone(config), {
          id,
          name: name?.trim() || defaultRunName(config, get().runs),
          createdAt: deps.now(),
        });
        if (imported) Object.assign(record, { checkpointStep: 0, importedFrom: imported.from });
        set((state) => ({ runs: sortRuns([record, ...state.runs]), selectedId: id }));
        void write(id);
        return id;
      },

      async startRun(id) {
        const state = get();
        const record = find(id);
        if (!record) return;
        if (state.activeId === id) return;
        if (isElsewhere(id)) return elsewhereNotice(id);
        if (state.activeId !== null) {
          const other = find(state.activeId);
          const what = other?.status === 'paused' ? 'is paused and still holds the GPU: stop it' : 'is training: stop it, or let it finish,';
          set({ notice: `Run "${other?.name ?? state.activeId}" ${what} before starting another.` });
          return;
        }
        if (record.status === 'done') {
          set({ notice: `Run "${record.name}" is done. Create a new run to train again.` });
          return;
        }
        set({ activeId: id }); // taken at once, so a second click does not race for the lock
        running = train(id);
        await running;
        running = null;
      },

      async pauseRun(id) {
        if (get().activeId !== id || !client) return;
        set({ request: 'pause' });
        await client.pause();
      },

      async resumeRun(id) {
        if (isElsewhere(id)) return elsewhereNotice(id);
        if (get().activeId === id && client) {
          set({ request: null });
          await client.resume();
          return;
        }
        await get().startRun(id);
      },

      async stopRun(id) {
        if (isElsewhere(id)) return elsewhereNotice(id);
        if (get().activeId === id && client) {
          set({ request: 'stop' });
          await client.stop();
          return;
        }
        const record = find(id);
        if (record && record.status === 'paused') {
          update(id, (r) => ({ ...r, status: 'stopped' }));
          await write(id);
        }
      },

      async deleteRun(id) {
        if (isElsewhere(id)) return elsewhereNotice(id);
        if (get().activeId === id) {
          const finished = running;
          await get().stopRun(id);
          await finished;
        }
        dirty.delete(id);
        set((state) => {
          const runs = state.runs.filter((r) => r.id !== id);
          const selectedId = state.selectedId === id ? (runs[0]?.id ?? null) : state.selectedId;
          return { runs, selectedId, compareIds: state.compareIds.filter((c) => c !== id) };
        });
        writes = writes.then(() => deps.storage.remove(id)).catch((error) => set({ notice: `Could not delete the saved run: ${errorMessage(error)}` }));
        await writes;
        try {
          await deps.deleteCheckpoint(id);
        } catch (error) {
          set({ notice: `The run is deleted, but its checkpoint could not be: ${errorMessage(error)}` });
        }
      },

      renameRun(id, name) {
        const trimmed = name.trim();
        if (!trimmed || !find(id)) return;
        if (isElsewhere(id)) return elsewhereNotice(id);
        update(id, (r) => ({ ...r, name: trimmed }));
        void write(id);
      },

      selectRun(id) {
        set({ selectedId: id });
      },

      toggleCompare(id) {
        set((state) => ({
          compareIds: state.compareIds.includes(id) ? state.compareIds.filter((c) => c !== id) : [...state.compareIds, id],
        }));
      },

      setCompare(ids) {
        set({ compareIds: [...new Set(ids)] });
      },

      dismissNotice() {
        set({ notice: null });
      },

      async flush() {
        applyQueued();
        if (persistTimer) clearTimeout(persistTimer);
        persistTimer = null;
        for (const id of [...dirty]) void write(id);
        await writes;
      },
    };
  });
  return store;
}

export type RunsStore = ReturnType<typeof createRunsStore>;

function randomId(): string {
  const random = globalThis.crypto?.randomUUID?.().slice(0, 8) ?? Math.random().toString(36).slice(2, 10);
  return `run-${Date.now().toString(36)}-${random}`;
}

export const useRunsStore = createRunsStore({
  storage: indexedDbRunStorage(),
  createClient: createTrainingClient,
  deleteCheckpoint: async (runId) => {
    await Promise.all([deleteCheckpoint(runId), deleteInitialAdapter(runId)]);
  },
  tabs: browserRunTabs(),
  now: () => Date.now(),
  newId: randomId,
  persistDelayMs: 2000,
  eventBatchMs: 100,
});

/** The selected run, or undefined. */
export function selectedRun(state: Pick<RunsState, 'runs' | 'selectedId'>): RunRecord | undefined {
  return state.runs.find((r) => r.id === state.selectedId);
}

/** The runs ticked for comparison, in the order they were ticked. */
export function comparedRuns(state: Pick<RunsState, 'runs' | 'compareIds'>): RunRecord[] {
  return state.compareIds.map((id) => state.runs.find((r) => r.id === id)).filter((r): r is RunRecord => r !== undefined);
}

/** Runs whose checkpoint can be the base model of a new run: full-parameter runs with a checkpoint. */
export function checkpointModels(runs: readonly RunRecord[]): { runId: string; name: string; step: number }[] {
  return runs
    .filter((r) => r.config.mode === 'full' && r.checkpointStep !== undefined)
    .map((r) => ({ runId: r.id, name: r.name, step: r.checkpointStep! }));
}
