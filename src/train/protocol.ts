// What the UI and the training worker say to each other, and what a run stores in IndexedDB.
import type { Example, TaskFamily } from '../data/tasks';
import type { LoraTarget } from '../engine/spec';

/** The baselines of the study: ManyICL trains on every answer of a many-shot context. */
export type RunObjective = 'manyicl' | 'last-answer' | 'zero-shot' | 'dedicated';

/** Quantize f32/f16/bf16 linear weights on the GPU while loading. */
export type QuantizeOnLoad = 'Q8_0' | 'Q4_0';

export interface RunConfig {
  /**
   * Which model: the embedded one, a full-parameter run's checkpoint, or a model in the browser's model cache
   * (src/model/sources/library.ts: downloaded from the Hub or a URL, or copied from a local file).
   */
  model:
    | { source: 'embedded'; id: string }
    | { source: 'checkpoint'; runId: string }
    | { source: 'cached'; id: string; name: string; quantize?: QuantizeOnLoad };
  /** 'full' trains every weight (for the small embedded model, starting from random); 'lora' trains an adapter. */
  mode: 'full' | 'lora';
  objective: RunObjective;
  /** Built-in task names (src/data/tasks.ts) with mixture weights. */
  tasks: { task: string; weight: number }[];
  /** Imported datasets (JSONL/CSV uploads, Hugging Face datasets) in the mixture, stored with the run. */
  datasets?: ImportedTask[];
  contextLength: number;
  /** At most this many shots per context (all that fit when absent). */
  maxShots?: number;
  batchSize: number;
  gradAccumulation: number;
  lora: { rank: number; alpha: number; targets: LoraTarget[] };
  lr: number;
  warmupSteps: number;
  /** Cosine decay to lr * minLrRatio at the last step. */
  minLrRatio: number;
  steps: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  checkpointEvery: number;
  recompute: boolean;
}

export interface ImportedTask {
  name: string;
  family: TaskFamily;
  examples: Example[];
  weight: number;
}

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
}

/** Worker -> UI. */
export type TrainEvent =
  | { type: 'status'; status: RunStatus; message?: string }
  | { type: 'progress'; label: string; done: number; total: number }
  | { type: 'step'; metrics: StepMetrics }
  | { type: 'sample'; sample: TokenLossSample }
  | { type: 'checkpoint'; step: number };

/** The base model in a few words, for run headers and lists. */
export function describeModel(model: RunConfig['model']): string {
  if (model.source === 'embedded') return model.id;
  if (model.source === 'checkpoint') return `from run ${model.runId}`;
  return model.quantize ? `${model.name} (${model.quantize} on load)` : model.name;
}
