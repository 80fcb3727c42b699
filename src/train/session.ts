// One training run: loads the model, streams many-shot contexts, steps the trainer, reports every step and
// checkpoints. Runs in the training worker, and in Node for tests and the CLI.
import { ContextStream, engineObjective, type PackedContext, type StreamOptions, type WeightedSource, toSequenceBatch } from '../data/packer';
import { BUILTIN_TASKS, listSource } from '../data/tasks';
import type { Tokenizer } from '../data/tokenizer';
import { FullParameters } from '../engine/full';
import { LoraAdapter } from '../engine/lora';
import { Model, type TensorLookup } from '../engine/model';
import type { ModelSpec } from '../engine/spec';
import { type StepResult, Trainer } from '../engine/trainer';
import type { Gpu } from '../gpu/gpu';
import type { Checkpoint, CheckpointStore } from './checkpoints';
import type { RunConfig, StepMetrics, TokenLossSample, TrainEvent } from './protocol';
import { learningRate } from './schedule';

export interface BaseModel {
  spec: ModelSpec;
  tensors: TensorLookup;
  tokenizer: Tokenizer;
}

export interface SessionDeps {
  gpu: Gpu;
  /** The base model of the run (for a checkpoint source, its weights already resolved). */
  loadModel(config: RunConfig, onProgress: (done: number, total: number) => void): Promise<BaseModel>;
  checkpoints: CheckpointStore;
  emit(event: TrainEvent): void;
}

/** Pause and stop requests from the UI, checked between steps. */
export class RunControl {
  private paused = false;
  private stopped = false;
  private wake: (() => void) | null = null;

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  get stopRequested(): boolean {
    return this.stopped;
  }

  /** Resolves at once unless paused; then when resumed or stopped. */
  async waitWhilePaused(onPause: () => void): Promise<void> {
    if (!this.paused || this.stopped) return;
    onPause();
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = null;
  }
}

/** Shown in the token-loss view every this many steps. */
const SAMPLE_EVERY = 5;

/** The run's task mixture: built-in generators made with the run's seed, and imported datasets. */
export function runSources(config: Pick<RunConfig, 'tasks' | 'datasets' | 'seed'>): WeightedSource[] {
  const builtin = config.tasks.map(({ task, weight }) => {
    const make = BUILTIN_TASKS[task];
    if (!make) throw new Error(`unknown task ${task}; built-in tasks: ${Object.keys(BUILTIN_TASKS).join(', ')}`);
    return { task: make({ seed: config.seed }), weight };
  });
  const imported = (config.datasets ?? []).map((d) => ({ task: listSource(d.examples, { name: d.name, family: d.family }), weight: d.weight }));
  return [...builtin, ...imported];
}

export function streamOptions(config: RunConfig, tokenizer: Tokenizer): StreamOptions {
  const sources = runSources(config);
  if (sources.length === 0) throw new Error('choose at least one task');
  if (config.objective === 'dedicated' && sources.length !== 1) {
    throw new Error('a dedicated run trains one adapter on one task: make one run per task');
  }
  const objective = config.objective === 'dedicated' ? 'manyicl' : config.objective;
  return { tokenizer, sources, contextLength: config.contextLength, objective, maxShots: config.maxShots, seed: config.seed };
}

/** Per-shot and per-task mean answer losses of one step. */
export function stepLosses(contexts: PackedContext[], result: StepResult, batchSize: number): { shotLoss: number[]; taskLoss: Record<string, number> } {
  const shotSum: number[] = [];
  const shotCount: number[] = [];
  const taskSum: Record<string, number> = {};
  const taskCount: Record<string, number> = {};
  contexts.forEach((ctx, i) => {
    const perAnswer = result.answerLoss[Math.floor(i / batchSize)][i % batchSize];
    ctx.answers.forEach((answer, k) => {
      const loss = perAnswer[k];
      shotSum[answer.shot] = (shotSum[answer.shot] ?? 0) + loss;
      shotCount[answer.shot] = (shotCount[answer.shot] ?? 0) + 1;
      taskSum[answer.task] = (taskSum[answer.task] ?? 0) + loss;
      taskCount[answer.task] = (taskCount[answer.task] ?? 0) + 1;
    });
  });
  return {
    shotLoss: Array.from(shotSum, (sum, k) => sum / shotCount[k]),
    taskLoss: Object.fromEntries(Object.keys(taskSum).map((t) => [t, taskSum[t] / taskCount[t]])),
  };
}

function tokenSample(step: number, ctx: PackedContext, tokenLoss: Float32Array, tokenizer: Tokenizer): TokenLossSample {
  const shotAt = new Map<number, number>();
  for (const a of ctx.answers) for (let t = a.span[0]; t < a.span[1]; t++) shotAt.set(t, a.shot);
  const tokens: TokenLossSample['tokens'] = [];
  ctx.inputIds.forEach((id, t) => {
    if (ctx.attentionMask[t] === 0) return;
    const target = ctx.labels[t] !== -100;
    tokens.push({ text: tokenizer.decode([id]), loss: target ? tokenLoss[t] : null, shot: shotAt.get(t) ?? null });
  });
  return { step, tokens };
}

/** Runs (or resumes from its checkpoint) one training run to its last step or until stopped. */
export async function runTraining(run: { id: string; config: RunConfig }, deps: SessionDeps, control: RunControl): Promise<void> {
  const { gpu, emit } = deps;
  const { config } = run;
  emit({ type: 'status', status: 'loading', message: 'loading the model' });
  const base = await deps.loadModel(config, (done, total) => emit({ type: 'progress', label: 'model', done, total }));
  const checkpoint = await deps.checkpoints.load(run.id);
  if (checkpoint && checkpoint.mode !== config.mode) throw new Error(`the checkpoint of run ${run.id} is for ${checkpoint.mode} training`);
  const weights: TensorLookup =
    checkpoint?.mode === 'full'
      ? (name) => {
          const restored = (checkpoint.params as Record<string, Float32Array>)[name];
          const t = base.tensors(name);
          return restored && t ? { shape: t.shape, data: restored } : t;
        }
      : base.tensors;
  const opts = streamOptions(config, base.tokenizer);
  const model = Model.fromTensors(gpu, base.spec, weights);
  const trainable = config.mode === 'full' ? new FullParameters(gpu, model) : new LoraAdapter(gpu, base.spec, config.lora);
  const trainer = new Trainer(model, trainable, {
    objective: engineObjective(opts.objective),
    adamw: { lr: config.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: config.weightDecay },
    maxGradNorm: config.maxGradNorm,
    recompute: config.recompute,
  });
  try {
    let stream: ContextStream;
    let step = 0;
    if (checkpoint) {
      if (trainable instanceof LoraAdapter) gpu.write(trainable.params, checkpoint.params as Float32Array);
      gpu.write(trainable.m, checkpoint.m);
      gpu.write(trainable.v, checkpoint.v);
      trainable.step = checkpoint.step;
      stream = ContextStream.resume(opts, checkpoint.cursor);
      step = checkpoint.step;
    } else {
      if (trainable instanceof LoraAdapter) trainable.initialize(config.seed);
      stream = new ContextStream(opts);
    }

    const save = async () => {
      const params = trainable instanceof LoraAdapter
        ? await gpu.readF32(trainable.params, trainable.count)
        : Object.fromEntries(await trainable.read());
      const saved: Checkpoint = {
        runId: run.id, step, mode: config.mode, params,
        m: await gpu.readF32(trainable.m, trainable.count), v: await gpu.readF32(trainable.v, trainable.count),
        cursor: stream.cursor, savedAt: Date.now(),
      };
      await deps.checkpoints.save(saved);
      emit({ type: 'checkpoint', step });
    };

    emit({ type: 'status', status: 'running' });
    while (step < config.steps && !control.stopRequested) {
      await control.waitWhilePaused(() => emit({ type: 'status', status: 'paused' }));
      if (control.stopRequested) break;
      emit({ type: 'status', status: 'running' });
      const contexts = stream.next(config.batchSize * config.gradAccumulation);
      const microBatches = [];
      for (let i = 0; i < contexts.length; i += config.batchSize) microBatches.push(toSequenceBatch(contexts.slice(i, i + config.batchSize)));
      const lr = learningRate(step + 1, config);
      const t0 = performance.now();
      const result = await trainer.step(microBatches, { lr });
      const stepMs = performance.now() - t0;
      step += 1;
      const tokens = contexts.reduce((n, c) => n + c.attentionMask.reduce((a, x) => a + x, 0), 0);
      const metrics: StepMetrics = {
        step, loss: result.loss, lr, gradNorm: result.gradNorm, stepMs, tokensPerSecond: tokens / (stepMs / 1000),
        gpuBytes: gpu.allocatedBytes, ...stepLosses(contexts, result, config.batchSize),
      };
      emit({ type: 'step', metrics });
      if (step === 1 || step % SAMPLE_EVERY === 0 || step === config.steps) {
        emit({ type: 'sample', sample: tokenSample(step, contexts[0], result.tokenLoss[0][0], base.tokenizer) });
      }
      if (step % config.checkpointEvery === 0 || step === config.steps) await save();
    }
    if (control.stopRequested && step % config.checkpointEvery !== 0) await save();
    emit({ type: 'status', status: step >= config.steps ? 'done' : 'stopped' });
  } finally {
    trainer.destroy();
    trainable.destroy();
    model.destroy();
  }
}
