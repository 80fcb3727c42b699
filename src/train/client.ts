// The UI side of the training worker.
import { type Remote, proxy, wrap } from 'comlink';
import type { RunConfig, TrainEvent } from './protocol';
import type { TrainingWorkerApi } from './worker';

export interface TrainingClient {
  /** Trains the run (from its checkpoint, if it has one); resolves when it ends, stops or fails. */
  start(run: { id: string; config: RunConfig }, onEvent: (event: TrainEvent) => void): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
  dispose(): void;
}

export function createTrainingClient(): TrainingClient {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'manyicl-trainer' });
  const api: Remote<TrainingWorkerApi> = wrap(worker);
  const appBaseUrl = new URL(import.meta.env.BASE_URL, location.href).href;
  return {
    start: (run, onEvent) => api.start(run, appBaseUrl, proxy(onEvent)),
    pause: async () => void (await api.pause()),
    resume: async () => void (await api.resume()),
    stop: async () => void (await api.stop()),
    dispose: () => worker.terminate(),
  };
}

/** A run that shows in-context learning on the embedded model in a few minutes on a laptop GPU. */
export function defaultRunConfig(): RunConfig {
  return {
    model: { source: 'embedded', id: 'manyicl-tiny' },
    mode: 'full',
    objective: 'manyicl',
    tasks: [
      { task: 'sentiment', weight: 1 },
      { task: 'arithmetic', weight: 1 },
    ],
    contextLength: 256,
    batchSize: 4,
    gradAccumulation: 1,
    lora: { rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
    lr: 1e-3,
    warmupSteps: 20,
    minLrRatio: 0.1,
    steps: 500,
    weightDecay: 0.01,
    maxGradNorm: 1,
    seed: 1,
    checkpointEvery: 10,
    recompute: false,
  };
}
