// The UI side of the training worker.
import { type Remote, proxy, wrap } from 'comlink';
import type { TrainEvent } from './protocol';
import type { RunConfig } from './run-config';
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
