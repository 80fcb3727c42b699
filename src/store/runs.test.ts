import { describe, expect, test, vi } from 'vitest';
import type { TrainingClient } from '../train/client';
import { defaultRunConfig } from '../train/run-config';
import type { RunRecord, StepMetrics, TrainEvent } from '../train/protocol';
import {
  applyEvent,
  applyEvents,
  comparedRuns,
  createRunsStore,
  defaultRunName,
  prepareStart,
  recoverRun,
  runControls,
  rollbackNotice,
  runData,
  runMeta,
  selectedRun,
  statusLine,
  stepsDone,
  type RunTabs,
  type RunsDeps,
  type TabMessage,
} from './runs';
import { memoryRunStorage } from './runs.testing';

function metrics(step: number, loss = 3 - step * 0.01): StepMetrics {
  return { step, loss, lr: 1e-3, gradNorm: 1, tokensPerSecond: 1000, stepMs: 10, gpuBytes: 1 << 20, shotLoss: [loss + 0.5, loss], taskLoss: { sentiment: loss } };
}

function record(overrides: Partial<RunRecord> = {}): RunRecord {
  return { id: 'r1', name: 'run one', createdAt: 1000, config: defaultRunConfig(), status: 'idle', metrics: [], ...overrides };
}

describe('applyEvent', () => {
  test('records status, steps, samples and checkpoints', () => {
    let r = record();
    r = applyEvent(r, { type: 'status', status: 'running' });
    r = applyEvent(r, { type: 'step', metrics: metrics(1) });
    r = applyEvent(r, { type: 'step', metrics: metrics(2) });
    r = applyEvent(r, { type: 'sample', sample: { step: 2, tokens: [{ text: 'a', loss: 1, shot: 0 }] } });
    r = applyEvent(r, { type: 'checkpoint', step: 2 });
    r = applyEvent(r, { type: 'progress', label: 'model', done: 1, total: 2 });
    expect(r.status).toBe('running');
    expect(r.metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(r.sample?.step).toBe(2);
    expect(r.checkpointStep).toBe(2);
    expect(stepsDone(r)).toBe(2);
  });

  test('does not change the record it is given', () => {
    const before = record({ metrics: [metrics(1)] });
    const after = applyEvent(before, { type: 'step', metrics: metrics(2) });
    expect(before.metrics).toHaveLength(1);
    expect(after.metrics).toHaveLength(2);
  });

  test('a re-emitted step replaces the metrics from that step on', () => {
    const r = applyEvents(record({ metrics: [metrics(1), metrics(2), metrics(3)] }), [{ type: 'step', metrics: metrics(2, 9) }]);
    expect(r.metrics.map((m) => [m.step, m.loss])).toEqual([[1, metrics(1).loss], [2, 9]]);
  });

  test('keeps the error message and clears it when the run loads again', () => {
    const failed = applyEvent(record(), { type: 'status', status: 'error', message: 'device lost' });
    expect(failed).toMatchObject({ status: 'error', error: 'device lost' });
    expect(applyEvent(failed, { type: 'status', status: 'loading' }).error).toBeUndefined();
  });
});

describe('run lifecycle helpers', () => {
  test('a run that was training when the page closed becomes paused (checkpoint) or stopped', () => {
    expect(recoverRun(record({ status: 'running', checkpointStep: 20 })).status).toBe('paused');
    expect(recoverRun(record({ status: 'loading' })).status).toBe('stopped');
    const done = record({ status: 'done' });
    expect(recoverRun(done)).toBe(done);
  });

  test('prepareStart keeps what the checkpoint covers and drops the rest', () => {
    const r = prepareStart(
      record({ status: 'paused', checkpointStep: 2, error: 'x', metrics: [metrics(1), metrics(2), metrics(3)], sample: { step: 3, tokens: [] } }),
    );
    expect(r.status).toBe('loading');
    expect(r.metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(r.sample).toBeUndefined();
    expect(r.error).toBeUndefined();
    expect(prepareStart(record({ status: 'error', metrics: [metrics(1)] })).metrics).toEqual([]);
  });

  test('controls follow the status and the one active run', () => {
    expect(runControls(record(), null)).toMatchObject({ start: true, pause: false, resume: false, stop: false, startLabel: 'Start' });
    expect(runControls(record(), 'other').start).toBe(false);
    expect(runControls(record({ status: 'running' }), 'r1')).toMatchObject({ start: false, pause: true, stop: true });
    expect(runControls(record({ status: 'paused' }), 'r1')).toMatchObject({ pause: false, resume: true, stop: true });
    // Paused after a reload: resuming starts the worker from the checkpoint.
    expect(runControls(record({ status: 'paused', checkpointStep: 10 }), null)).toMatchObject({ resume: true, stop: true, start: false });
    expect(runControls(record({ status: 'stopped', checkpointStep: 10 }), null)).toMatchObject({ start: true, startLabel: 'Continue from step 10' });
    expect(runControls(record({ status: 'done' }), null)).toMatchObject({ start: false, pause: false, resume: false, stop: false });
  });

  test('status line and default names', () => {
    expect(statusLine(record({ status: 'running', metrics: [metrics(1), metrics(12)], config: { ...defaultRunConfig(), steps: 100 } }))).toBe(
      'running · step 12/100',
    );
    const config = { ...defaultRunConfig(), objective: 'manyicl' as const, mode: 'lora' as const };
    expect(defaultRunName(config, [])).toBe('manyicl · lora #1');
    expect(defaultRunName(config, [record({ name: 'manyicl · lora #1' })])).toBe('manyicl · lora #2');
    expect(runMeta(record())).toBe('manyicl · full-parameter · manyicl-tiny · sentiment, arithmetic · 256 tokens');
    const cached = { ...config, model: { source: 'cached' as const, id: 'hub-1', name: 'org/m', quantize: 'Q8_0' as const } };
    expect(runMeta(record({ config: cached }))).toBe('manyicl · LoRA r8 · org/m (Q8_0 on load) · sentiment, arithmetic · 256 tokens');
  });

  test('every run names its data, imported datasets included', () => {
    const imported = { name: 'reviews', family: 'classification' as const, examples: [], weight: 1 };
    expect(runData({ ...defaultRunConfig(), tasks: [], datasets: [imported] })).toBe('reviews (imported)');
    expect(runMeta(record({ config: { ...defaultRunConfig(), tasks: [{ task: 'nli', weight: 1 }], datasets: [imported] } }))).toBe(
      'manyicl · full-parameter · manyicl-tiny · nli, reviews (imported) · 256 tokens',
    );
    expect(runData({ ...defaultRunConfig(), tasks: [] })).toBe('no tasks');
  });

  test('a restart says which steps it trains again', () => {
    const steps = (n: number) => Array.from({ length: n }, (_, i) => metrics(i + 1));
    expect(rollbackNotice(record({ metrics: steps(8), checkpointStep: 6 }))).toBe(
      'Run "run one" goes on from its checkpoint at step 6: steps 7–8 are trained again (the checkpoint is saved every 10 steps).',
    );
    expect(rollbackNotice(record({ metrics: steps(7), checkpointStep: 6 }))).toMatch(/step 7 is trained again/);
    expect(rollbackNotice(record({ metrics: steps(6), checkpointStep: 6 }))).toBeNull();
    expect(rollbackNotice(record({ metrics: steps(3) }))).toBe('Run "run one" had no checkpoint: it starts over, and steps 1–3 are trained again.');
  });
});

/** A training client whose worker the test drives. */
function fakeClient() {
  const calls: string[] = [];
  let emit: (event: TrainEvent) => void = () => {};
  let finish: () => void = () => {};
  let fail: (error: Error) => void = () => {};
  const client: TrainingClient = {
    start(run, onEvent) {
      calls.push(`start ${run.id}`);
      emit = onEvent;
      return new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
    },
    pause: async () => {
      calls.push('pause');
      emit({ type: 'status', status: 'paused' });
    },
    resume: async () => {
      calls.push('resume');
      emit({ type: 'status', status: 'running' });
    },
    stop: async () => {
      calls.push('stop');
      emit({ type: 'status', status: 'stopped' });
      finish();
    },
    dispose: () => calls.push('dispose'),
  };
  return {
    client,
    calls,
    emit: (event: TrainEvent) => emit(event),
    finish: () => finish(),
    fail: (error: Error) => fail(error),
  };
}

/** The tabs of one browser, in memory: a lock per run, and messages delivered to every other tab. */
function fakeBrowser() {
  const held = new Set<string>();
  const waiting = new Map<string, (() => void)[]>();
  const tabs: ((message: TabMessage) => void)[][] = [];
  return (): RunTabs => {
    const listeners: ((message: TabMessage) => void)[] = [];
    tabs.push(listeners);
    return {
      async withLock(id, train) {
        if (held.has(id)) return false;
        held.add(id);
        try {
          await train();
        } finally {
          held.delete(id);
          for (const wake of waiting.get(id) ?? []) wake();
          waiting.delete(id);
        }
        return true;
      },
      locked: async () => [...held],
      whenFree: (id) => (held.has(id) ? new Promise((resolve) => waiting.set(id, [...(waiting.get(id) ?? []), resolve])) : Promise.resolve()),
      post: (message) => {
        for (const other of tabs) if (other !== listeners) for (const listener of other) setTimeout(() => listener(structuredClone(message)), 0);
      },
      subscribe: (listener) => void listeners.push(listener),
    };
  };
}

function setup(initial: RunRecord[] = [], shared?: { storage: ReturnType<typeof memoryRunStorage>; tabs: () => RunTabs }) {
  const storage = shared ? { ...shared.storage } : memoryRunStorage(initial); // a tab's own view, for its spy
  const save = vi.spyOn(storage, 'save');
  const worker = fakeClient();
  const deleted: string[] = [];
  let nextId = 0;
  const deps: RunsDeps = {
    storage,
    createClient: () => worker.client,
    deleteCheckpoint: async (id) => void deleted.push(id),
    now: () => 5000 + nextId,
    newId: () => `run-${++nextId}`,
    persistDelayMs: 60_000,
    eventBatchMs: 0,
    tabs: shared?.tabs(),
  };
  const store = createRunsStore(deps);
  return { store, storage, save, worker, deleted, deps };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('runs store', () => {
  test('createRun adds an idle run, selects it and saves it', async () => {
    const { store, storage } = setup();
    const id = store.getState().createRun(defaultRunConfig(), '  first  ');
    await store.getState().flush();
    expect(store.getState().selectedId).toBe(id);
    expect(selectedRun(store.getState())).toMatchObject({ id, name: 'first', status: 'idle', metrics: [] });
    expect(storage.records.get(id)?.name).toBe('first');
  });

  test('a run trains, its events are recorded, steps are saved lazily and the end at once', async () => {
    const { store, storage, save, worker } = setup();
    const id = store.getState().createRun(defaultRunConfig());
    await store.getState().flush();
    const done = store.getState().startRun(id);
    await tick();
    expect(worker.calls).toEqual([`start ${id}`]);
    expect(store.getState().activeId).toBe(id);
    expect(selectedRun(store.getState())?.status).toBe('loading');

    worker.emit({ type: 'progress', label: 'model', done: 5, total: 10 });
    expect(store.getState().progress).toEqual({ runId: id, label: 'model', done: 5, total: 10 });
    worker.emit({ type: 'status', status: 'running' });
    expect(store.getState().progress).toBeNull();
    await tick();
    const savesWhenRunning = save.mock.calls.length;
    for (let step = 1; step <= 5; step++) {
      worker.emit({ type: 'status', status: 'running' });
      worker.emit({ type: 'step', metrics: metrics(step) });
    }
    await tick();
    expect(save.mock.calls.length).toBe(savesWhenRunning); // throttled: nothing written yet
    expect(store.getState().runs[0].metrics).toHaveLength(5);

    worker.emit({ type: 'checkpoint', step: 5 });
    worker.emit({ type: 'status', status: 'done' });
    worker.finish();
    await done;
    expect(store.getState().activeId).toBeNull();
    const saved = storage.records.get(id)!;
    expect(saved.status).toBe('done');
    expect(saved.metrics).toHaveLength(5);
    expect(saved.checkpointStep).toBe(5);
  });

  test('only one run trains at a time', async () => {
    const { store, worker } = setup();
    const a = store.getState().createRun(defaultRunConfig(), 'a');
    const b = store.getState().createRun(defaultRunConfig(), 'b');
    const first = store.getState().startRun(a);
    await tick();
    await store.getState().startRun(b);
    expect(worker.calls).toEqual([`start ${a}`]);
    expect(store.getState().notice).toContain('"a" is training');
    expect(store.getState().runs.find((r) => r.id === b)?.status).toBe('idle');
    await store.getState().stopRun(a);
    await first;
    expect(store.getState().runs.find((r) => r.id === a)?.status).toBe('stopped');
  });

  test('pause, resume and stop go to the worker', async () => {
    const { store, worker } = setup();
    const id = store.getState().createRun(defaultRunConfig());
    const finished = store.getState().startRun(id);
    await tick();
    worker.emit({ type: 'status', status: 'running' });
    await store.getState().pauseRun(id);
    expect(store.getState().runs[0].status).toBe('paused');
    expect(store.getState().request).toBeNull();
    await store.getState().resumeRun(id);
    expect(store.getState().runs[0].status).toBe('running');
    await store.getState().stopRun(id);
    await finished;
    expect(worker.calls).toEqual([`start ${id}`, 'pause', 'resume', 'stop']);
    expect(store.getState().runs[0].status).toBe('stopped');
  });

  test('a failing worker marks the run as failed and the next start gets a new client', async () => {
    const { store, worker } = setup();
    const id = store.getState().createRun(defaultRunConfig());
    const finished = store.getState().startRun(id);
    await tick();
    worker.fail(new Error('GPU device lost'));
    await finished;
    expect(store.getState().runs[0]).toMatchObject({ status: 'error', error: 'GPU device lost' });
    expect(worker.calls).toContain('dispose');
  });

  test('after a reload a training run is paused at its checkpoint and resumes from it', async () => {
    const stored = record({ id: 'old', status: 'running', checkpointStep: 2, metrics: [metrics(1), metrics(2), metrics(3)] });
    const { store, storage, worker } = setup([stored, record({ id: 'older', createdAt: 10, status: 'done' })]);
    await store.getState().loadRuns();
    const state = store.getState();
    expect(state.loaded).toBe(true);
    expect(state.runs.map((r) => r.id)).toEqual(['old', 'older']);
    expect(state.selectedId).toBe('old');
    expect(state.runs[0]).toMatchObject({ status: 'paused', checkpointStep: 2 });
    expect(storage.records.get('old')?.status).toBe('paused');

    const resumed = store.getState().resumeRun('old');
    await tick();
    expect(worker.calls).toEqual(['start old']);
    expect(store.getState().runs[0].metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(store.getState().notice).toBe('Run "run one" goes on from its checkpoint at step 2: step 3 is trained again (the checkpoint is saved every 10 steps).');
    worker.emit({ type: 'status', status: 'running' });
    worker.emit({ type: 'step', metrics: metrics(3) });
    worker.emit({ type: 'status', status: 'stopped' });
    worker.finish();
    await resumed;
    expect(storage.records.get('old')?.metrics.map((m) => m.step)).toEqual([1, 2, 3]);
  });

  test('a paused run with no worker can be stopped', async () => {
    const { store } = setup([record({ status: 'paused', checkpointStep: 4 })]);
    await store.getState().loadRuns();
    await store.getState().stopRun('r1');
    expect(store.getState().runs[0].status).toBe('stopped');
  });

  test('deleteRun removes the run, its saved record and its checkpoint, and stops it first if it trains', async () => {
    const { store, storage, worker, deleted } = setup();
    const a = store.getState().createRun(defaultRunConfig(), 'a');
    const b = store.getState().createRun(defaultRunConfig(), 'b');
    store.getState().toggleCompare(a);
    store.getState().toggleCompare(b);
    store.getState().selectRun(a);
    void store.getState().startRun(a);
    await tick();
    await store.getState().deleteRun(a);
    expect(worker.calls).toEqual([`start ${a}`, 'stop']);
    expect(store.getState().runs.map((r) => r.id)).toEqual([b]);
    expect(store.getState().selectedId).toBe(b);
    expect(store.getState().compareIds).toEqual([b]);
    expect(storage.records.has(a)).toBe(false);
    expect(deleted).toEqual([a]);
  });

  test('rename and compare selection', async () => {
    const { store, storage } = setup();
    const a = store.getState().createRun(defaultRunConfig(), 'a');
    const b = store.getState().createRun(defaultRunConfig(), 'b');
    store.getState().renameRun(a, ' renamed ');
    store.getState().renameRun(a, '   ');
    await store.getState().flush();
    expect(storage.records.get(a)?.name).toBe('renamed');
    store.getState().toggleCompare(b);
    store.getState().toggleCompare(a);
    expect(comparedRuns(store.getState()).map((r) => r.name)).toEqual(['b', 'renamed']);
    store.getState().toggleCompare(b);
    expect(store.getState().compareIds).toEqual([a]);
  });

  test('runs created before the saved ones are loaded are kept', async () => {
    const { store } = setup([record({ id: 'saved', createdAt: 1 })]);
    const id = store.getState().createRun(defaultRunConfig());
    await store.getState().loadRuns();
    expect(store.getState().runs.map((r) => r.id)).toEqual([id, 'saved']);
    expect(store.getState().selectedId).toBe(id);
  });
});

describe('one trainer per run across tabs', () => {
  test('a second tab follows the run the first trains, cannot start it, and takes it back when it ends', async () => {
    const browser = { storage: memoryRunStorage(), tabs: fakeBrowser() };
    const a = setup([], browser);
    const b = setup([], browser);
    const id = a.store.getState().createRun(defaultRunConfig(), 'shared');
    await a.store.getState().flush();
    await b.store.getState().loadRuns();
    const done = a.store.getState().startRun(id);
    await tick();
    a.worker.emit({ type: 'status', status: 'running' });
    await tick();
    await tick();
    expect(b.store.getState().elsewhere).toEqual([id]);
    expect(runControls(b.store.getState().runs[0], null, true).start).toBe(false);

    const savesBefore = b.save.mock.calls.length;
    await b.store.getState().startRun(id);
    await b.store.getState().resumeRun(id);
    await b.store.getState().deleteRun(id);
    expect(b.worker.calls).toEqual([]);
    expect(b.store.getState().notice).toMatch(/"shared" is training in another tab/);
    expect(browser.storage.records.has(id)).toBe(true);

    for (let step = 1; step <= 3; step++) a.worker.emit({ type: 'step', metrics: metrics(step) });
    await tick();
    expect(stepsDone(b.store.getState().runs[0])).toBe(3);
    expect(b.store.getState().runs[0].status).toBe('running');

    // A tab opened now leaves the record as the training tab saved it (not 'paused' as after a crash).
    const c = setup([], browser);
    await c.store.getState().loadRuns();
    expect(c.store.getState().elsewhere).toEqual([id]);
    expect(browser.storage.records.get(id)?.status).toBe('running');

    a.worker.emit({ type: 'status', status: 'done' });
    a.worker.finish();
    await done;
    await tick();
    await tick();
    expect(b.store.getState().elsewhere).toEqual([]);
    expect(b.store.getState().runs[0]).toMatchObject({ status: 'done' });
    expect(stepsDone(b.store.getState().runs[0])).toBe(3);
    expect(b.save.mock.calls.length).toBe(savesBefore); // the follower never wrote the run
  });

  test('a run whose lock another tab holds is not started here', async () => {
    const browser = { storage: memoryRunStorage(), tabs: fakeBrowser() };
    const a = setup([], browser);
    const b = setup([], browser);
    const id = a.store.getState().createRun(defaultRunConfig(), 'r');
    await a.store.getState().flush();
    await b.store.getState().loadRuns();
    const first = a.store.getState().startRun(id);
    await b.store.getState().startRun(id); // before b heard anything from a
    expect(b.worker.calls).toEqual([]);
    expect(b.store.getState().activeId).toBeNull();
    expect(b.store.getState().elsewhere).toEqual([id]);
    await tick();
    a.worker.emit({ type: 'status', status: 'stopped' });
    a.worker.finish();
    await first;
  });
});
