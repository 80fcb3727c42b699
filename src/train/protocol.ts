// What the UI and the training worker say to each other, and what a run stores in IndexedDB.
import type { RunConfig } from './run-config';

/** One optimizer step, as the dashboard plots it. */
export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  stepMs: number;
  /** Bytes of GPU memory the engine holds. */
  gpuBytes: number;
  /** Mean loss of the k-th answer of a context (index k = shot index), over the step's contexts. */
  shotLoss: number[];
  /** Mean answer loss per task. */
  taskLoss: Record<string, number>;
  /** Mean loss of the k-th answer per task (the per-task in-context curve); absent in runs recorded before it existed. */
  taskShotLoss?: Record<string, number[]>;
}

/** Token-level losses of one context, for the colouring view. */
export interface TokenLossSample {
  step: number;
  tokens: { text: string; loss: number | null; shot: number | null }[];
}

export type RunStatus = 'idle' | 'loading' | 'running' | 'paused' | 'stopped' | 'done' | 'error';

export interface RunRecord {
  id: string;
  name: string;
  createdAt: number;
  config: RunConfig;
  status: RunStatus;
  error?: string;
  metrics: StepMetrics[];
  sample?: TokenLossSample;
  /** Step of the newest checkpoint, if any. */
  checkpointStep?: number;
  /** The PEFT adapter this run starts from (a file, URL or Hub repo), for a run made by importing one. */
  importedFrom?: string;
}

/** Worker -> UI. */
export type TrainEvent =
  | { type: 'status'; status: RunStatus; message?: string }
  | { type: 'progress'; label: string; done: number; total: number }
  | { type: 'step'; metrics: StepMetrics }
  | { type: 'sample'; sample: TokenLossSample }
  | { type: 'checkpoint'; step: number };
