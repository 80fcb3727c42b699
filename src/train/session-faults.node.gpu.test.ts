// A training run when things go wrong: a step that is not finite stops it and keeps the last good checkpoint; a GPU
// device lost in the middle (device.destroy(), as a driver reset would) is replaced, and the run ends bit for bit where
// an uninterrupted run ends. Node only: the session code is the same in the worker, and Dawn's device.destroy()
// behaves as Chromium's (e2e/device-loss.spec.ts covers the browser).
import { describe, expect, it } from 'vitest';
import { Gpu } from '../gpu/gpu';
import { testGpu } from '../gpu/gpu.testing';
import type { Checkpoint, CheckpointStore } from './checkpoints';
import type { StepMetrics, TrainEvent } from './protocol';
import { type RunConfig, defaultRunConfig } from './run-config';
import { MAX_DEVICE_RECOVERIES, RunControl, type SessionDeps, runTraining } from './session';
import { smallEmbeddedModel } from './model.testing';

function memoryCheckpoints(): CheckpointStore & { saved: Map<string, Checkpoint>; steps: number[] } {
  const saved = new Map<string, Checkpoint>();
  const steps: number[] = [];
  return {
    saved, steps,
    load: async (id) => structuredClone(saved.get(id)),
    save: async (c) => {
      steps.push(c.step);
      saved.set(c.runId, structuredClone(c));
    },
  };
}

const config = (over: Partial<RunConfig>): RunConfig => ({
  ...defaultRunConfig(), mode: 'lora', contextLength: 48, batchSize: 1, steps: 4, checkpointEvery: 2, warmupSteps: 1, ...over,
});

type Hooks = Partial<Pick<SessionDeps, 'reopenGpu'>> & { gpu?: Gpu; control?: RunControl; onEvent?(event: TrainEvent, gpu: Gpu): void };

async function train(runId: string, cfg: RunConfig, checkpoints: CheckpointStore, hooks: Hooks = {}) {
  const base = await smallEmbeddedModel();
  const events: TrainEvent[] = [];
  const loadedOn: Gpu[] = [];
  const gpu = hooks.gpu ?? (await testGpu());
  let error: unknown = null;
  await runTraining({ id: runId, config: cfg }, {
    gpu, checkpoints, reopenGpu: hooks.reopenGpu,
    loadModel: async (_config, _progress, on) => {
      loadedOn.push(on);
      return base;
    },
    emit: (e) => {
      events.push(e);
      hooks.onEvent?.(e, loadedOn[loadedOn.length - 1]);
    },
  }, hooks.control ?? new RunControl()).catch((e: unknown) => (error = e));
  const steps = events.filter((e): e is { type: 'step'; metrics: StepMetrics } => e.type === 'step').map((e) => e.metrics);
  return { events, steps, error: error as Error | null, loadedOn };
}

describe('training session faults', { timeout: 600_000 }, () => {
  it('a step whose loss is not finite stops the run, names the step and keeps the last good checkpoint', async () => {
    // A learning rate of 1e30: step 1 is computed on the initial weights, its update blows them up, step 2 overflows.
    const store = memoryCheckpoints();
    const run = await train('blow-up', config({ lr: 1e30, steps: 4, checkpointEvery: 1, warmupSteps: 0, maxGradNorm: 0 }), store);
    expect(run.error?.message).toMatch(
      /^Training stopped at step 2: the loss is (NaN|Infinity)( and the gradient norm is (NaN|Infinity))?\. Nothing of this step was saved \(the checkpoint of step 1 is kept\)\. Lower the learning rate/,
    );
    expect(run.steps.map((s) => s.step)).toEqual([1]); // no metrics for the bad step
    expect(store.steps).toEqual([1]);
    expect(store.saved.get('blow-up')?.step).toBe(1);
    expect(run.events.some((e) => e.type === 'status' && (e.status === 'done' || e.status === 'stopped'))).toBe(false);
  });

  it('a step that is not finite before any checkpoint says there is none', async () => {
    const base = await smallEmbeddedModel();
    const poisoned = (name: string) => {
      const t = base.tensors(name);
      if (!t || name !== 'model.norm.weight') return t;
      const data = Float32Array.from(t.data);
      data[3] = Number.NaN;
      return { shape: t.shape, data };
    };
    const store = memoryCheckpoints();
    let error: Error | null = null;
    await runTraining({ id: 'nan-weight', config: config({ steps: 2 }) }, {
      gpu: await testGpu(), checkpoints: store, emit: () => {},
      loadModel: async () => ({ ...base, tensors: poisoned }),
    }, new RunControl()).catch((e: Error) => (error = e));
    expect((error as Error | null)?.message).toMatch(/^Training stopped at step 1: the loss is NaN.*\(there is no checkpoint yet\)/);
    expect(store.steps).toEqual([]);
  });

  for (const mode of ['lora', 'full'] as const) {
    it(`${mode}: a device destroyed in the middle of a run is replaced, and the run ends bit for bit as an uninterrupted one`, async () => {
      const cfg = config({ mode });
      const straight = memoryCheckpoints();
      const whole = await train('whole', cfg, straight);
      expect(whole.error).toBeNull();
      expect(whole.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);

      // The device dies after step 3, which has no checkpoint: step 4 fails on it, the run reopens a device,
      // reloads the model and resumes from the checkpoint of step 2.
      const first = await Gpu.create();
      const opened: Gpu[] = [];
      const interrupted = memoryCheckpoints();
      const run = await train('lost', cfg, interrupted, {
        gpu: first,
        reopenGpu: async () => {
          const gpu = await Gpu.create();
          opened.push(gpu);
          return gpu;
        },
        onEvent: (e, gpu) => {
          if (e.type === 'step' && e.metrics.step === 3 && gpu === first) first.device.destroy();
        },
      });
      expect(run.error).toBeNull();
      expect(first.lost?.reason).toBe('destroyed');
      expect(opened).toHaveLength(1);
      expect(run.loadedOn).toEqual([first, opened[0]]);
      expect(run.events).toContainEqual({ type: 'recovered', step: 2, message: 'GPU device lost, resumed from step 2' });
      expect(run.steps.map((s) => s.step)).toEqual([1, 2, 3, 3, 4]);
      expect(run.events.at(-1)).toEqual({ type: 'status', status: 'done' });
      const lossesAfter = new Map(run.steps.map((s) => [s.step, s.loss])); // the redone steps replace the first
      expect([...lossesAfter.values()]).toEqual(whole.steps.map((s) => s.loss));
      expect(run.steps.map((s) => s.gradNorm).slice(-2)).toEqual(whole.steps.map((s) => s.gradNorm).slice(-2));
      const [a, b] = [straight.saved.get('whole')!, interrupted.saved.get('lost')!];
      expect(b.step).toBe(4);
      expect(b.cursor).toEqual(a.cursor);
      expect(b.params).toEqual(a.params);
      expect(b.m).toEqual(a.m);
      expect(b.v).toEqual(a.v);
      opened[0].device.destroy();
    });
  }

  it(`gives up after ${MAX_DEVICE_RECOVERIES} new devices are lost too, and without reopenGpu at the first loss`, async () => {
    const cfg = config({ steps: 2, checkpointEvery: 1 });
    // Every device is lost before it trains a step.
    const dead = async () => {
      const gpu = await Gpu.create();
      gpu.device.destroy();
      return gpu;
    };
    let reopened = 0;
    const store = memoryCheckpoints();
    const run = await train('cursed', cfg, store, {
      gpu: await dead(),
      reopenGpu: async () => {
        reopened += 1;
        return dead();
      },
    });
    expect(reopened).toBe(MAX_DEVICE_RECOVERIES);
    expect(run.error?.name).toBe('GpuDeviceLostError');
    expect(run.error?.message).toMatch(
      new RegExp(`^The GPU device was lost ${MAX_DEVICE_RECOVERIES + 1} times during this run \\(the last time: destroyed.*\\), so it stopped; it had no checkpoint yet, so starting it again begins at step 0\\.$`),
    );
    expect(run.events.filter((e) => e.type === 'recovered')).toHaveLength(MAX_DEVICE_RECOVERIES);
    expect(store.steps).toEqual([]);

    const alone = await train('alone', cfg, memoryCheckpoints(), { gpu: await dead() });

    // Stop pressed as the device is lost (the stop's checkpoint cannot be read back): the run stops, and no new
    // device is opened nor the model reloaded.
    const control = new RunControl();
    let reopenedAfterStop = 0;
    const stopped = await train('stopped', config({ steps: 4, checkpointEvery: 2 }), memoryCheckpoints(), {
      control,
      reopenGpu: async () => {
        reopenedAfterStop += 1;
        return dead();
      },
      onEvent: (event, on) => {
        if (event.type !== 'step') return;
        on.device.destroy();
        control.stop();
      },
    });
    expect(stopped.error).toBeNull();
    expect(reopenedAfterStop).toBe(0);
    expect(stopped.loadedOn).toHaveLength(1);
    expect(stopped.events.at(-1)).toMatchObject({ type: 'status', status: 'stopped', message: expect.stringMatching(/^The GPU device was lost \(destroyed.*\) as the run stopped/) });
    expect(alone.error?.message).toMatch(/^The GPU device was lost \(destroyed.*\); it had no checkpoint yet, so starting it again begins at step 0\.$/);
  });
});
