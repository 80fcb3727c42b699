// A training run end to end: real data, real engine, a small model of the embedded kind; checkpoints resume
// exactly.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import type { Checkpoint, CheckpointStore } from './checkpoints';
import { defaultRunConfig } from './run-config';
import type { StepMetrics, TrainEvent } from './protocol';
import type { RunConfig } from './run-config';
import { RunControl, runTraining } from './session';
import { smallEmbeddedModel } from './model.testing';
import { LoraAdapter } from '../engine/lora';

/** Checkpoints kept in memory: the session code is the same; IndexedDB itself is covered by the e2e test. */
function memoryCheckpoints(): CheckpointStore & { saved: Map<string, Checkpoint> } {
  const saved = new Map<string, Checkpoint>();
  return { saved, load: async (id) => saved.get(id), save: async (c) => void saved.set(c.runId, structuredClone(c)) };
}

const config = (over: Partial<RunConfig>): RunConfig => ({
  ...defaultRunConfig(), contextLength: 96, batchSize: 2, steps: 4, checkpointEvery: 2, warmupSteps: 1, ...over,
});

async function train(runId: string, cfg: RunConfig, checkpoints: CheckpointStore, stopAfter?: number) {
  const gpu = await testGpu();
  const base = await smallEmbeddedModel();
  const events: TrainEvent[] = [];
  const control = new RunControl();
  await runTraining({ id: runId, config: cfg }, {
    gpu, checkpoints, loadModel: async () => base,
    emit: (e) => {
      events.push(e);
      if (e.type === 'step' && e.metrics.step === stopAfter) control.stop();
    },
  }, control);
  const steps = events.filter((e): e is { type: 'step'; metrics: StepMetrics } => e.type === 'step').map((e) => e.metrics);
  return { events, steps };
}

describe('training session', { timeout: 600_000 }, () => {
  it('a checkpoint that cannot be saved for a full disk stops the run in words; the earlier one is kept', async () => {
    const cfg = config({ mode: 'lora', contextLength: 48, batchSize: 1, steps: 4, checkpointEvery: 2 });
    const full = (failFrom: number) => {
      const store = memoryCheckpoints();
      const save = store.save;
      store.save = async (c) => {
        if (c.step >= failFrom) throw new DOMException('The operation failed because it would cause the application to exceed its storage quota.', 'QuotaExceededError');
        await save(c);
      };
      return store;
    };
    const kept = full(4);
    await expect(train('full-disk', cfg, kept)).rejects.toThrow(
      "The browser's storage is full: could not save the checkpoint of step 4 (the checkpoint of step 2 is kept). Free space (delete cached models or runs) and resume.",
    );
    expect(kept.saved.get('full-disk')?.step).toBe(2);
    await expect(train('no-room', cfg, full(1))).rejects.toThrow(/could not save the checkpoint of step 2 \(there is no earlier checkpoint\)/);
  });

  for (const mode of ['lora', 'full'] as const) {
    it(`${mode}: a run stopped at a checkpoint and resumed ends exactly where an uninterrupted run does`, async () => {
      const cfg = config({ mode });
      const straight = memoryCheckpoints();
      const whole = await train('whole', cfg, straight);
      expect(whole.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
      expect(whole.events.at(-1)).toEqual({ type: 'status', status: 'done' });
      const m = whole.steps[0];
      expect(m.shotLoss.length).toBeGreaterThan(1);
      expect(Object.keys(m.taskLoss).sort()).toEqual(['arithmetic', 'sentiment'].filter((t) => t in m.taskLoss).sort());
      expect(m.tokensPerSecond).toBeGreaterThan(0);
      expect(m.gpuBytes).toBeGreaterThan(1e6);
      const sample = whole.events.find((e) => e.type === 'sample');
      expect(sample?.type === 'sample' && sample.sample.tokens.some((t) => t.loss !== null)).toBe(true);

      const interrupted = memoryCheckpoints();
      const first = await train('split', cfg, interrupted, 2);
      expect(first.events.at(-1)).toEqual({ type: 'status', status: 'stopped' });
      expect(interrupted.saved.get('split')?.step).toBe(2);
      const rest = await train('split', cfg, interrupted);
      expect(rest.steps.map((s) => s.step)).toEqual([3, 4]);
      expect(rest.steps.map((s) => s.loss)).toEqual(whole.steps.slice(2).map((s) => s.loss));
      const [a, b] = [straight.saved.get('whole')!, interrupted.saved.get('split')!];
      expect(b.step).toBe(4);
      expect(b.cursor?.position).toBe(a.cursor!.position);
      expect(b.m).toEqual(a.m);
      expect(b.params).toEqual(a.params);
    });
  }

  it('lora: an imported adapter (a step-0 checkpoint without a stream cursor) is where training starts', async () => {
    const cfg = config({ mode: 'lora', steps: 2 });
    const fresh = await train('fresh', cfg, memoryCheckpoints());
    // The adapter the trainer would initialise itself, imported: the run must be the fresh run, step for step.
    const gpu = await testGpu();
    const base = await smallEmbeddedModel();
    const lora = new LoraAdapter(gpu, base.spec, { ...cfg.lora });
    lora.initialize(cfg.seed);
    const params = await gpu.readF32(lora.params, lora.count);
    lora.destroy();
    const imported = memoryCheckpoints();
    const zeros = new Float32Array(params.length);
    await imported.save({ runId: 'imported', step: 0, mode: 'lora', params, m: zeros, v: zeros, savedAt: 0 });
    const run = await train('imported', cfg, imported);
    expect(run.steps.map((s) => s.loss)).toEqual(fresh.steps.map((s) => s.loss));
    expect(imported.saved.get('imported')?.cursor?.position).toBeGreaterThan(0);
    // Other weights change what it trains from.
    const shifted = memoryCheckpoints();
    await shifted.save({ runId: 'shifted', step: 0, mode: 'lora', params: params.map((x) => x + 0.05), m: zeros, v: zeros, savedAt: 0 });
    expect((await train('shifted', cfg, shifted)).steps[0].loss).not.toBe(fresh.steps[0].loss);
  });

  it('pauses between steps and goes on when resumed', async () => {
    const gpu = await testGpu();
    const base = await smallEmbeddedModel();
    const control = new RunControl();
    const statuses: string[] = [];
    const done = runTraining({ id: 'pause', config: config({ steps: 2 }) }, {
      gpu, checkpoints: memoryCheckpoints(), loadModel: async () => base,
      emit: (e) => {
        if (e.type === 'status') statuses.push(e.status);
        if (e.type === 'step' && e.metrics.step === 1) {
          control.pause();
          setTimeout(() => control.resume(), 50);
        }
      },
    }, control);
    await done;
    expect(statuses).toEqual(['loading', 'running', 'running', 'paused', 'running', 'done']);
  });
});
