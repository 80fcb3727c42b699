// One training run: loads the model, streams many-shot contexts, steps the trainer, reports every step and
// checkpoints. Runs in the training worker, and in Node for tests and the CLI.
import { ContextStream, type PackedContext, toSequenceBatch } from '../data/packer';
import type { Tokenizer } from '../data/tokenizer';
import { LoraAdapter } from '../engine/lora';
import { Model, type TensorLookup } from '../engine/weights';
import { GpuTooSmallError, type TrainingPlan, checkPlanFits, describePlan, planTraining } from '../engine/plan';
import { type ModelSpec, WEIGHT_NAMES } from '../engine/spec';
import type { GgmlType } from '../engine/ggml';
import type { StepResult } from '../engine/trainer';
import { describeHalfMatmul, verifyHalfMatmul } from '../engine/ops/matmul_quant_half';
import { type DeviceLoss, type Gpu, GpuError, GpuOutOfMemoryError } from '../gpu/gpu';
import type { Checkpoint, CheckpointStore } from './checkpoints';
import type { StepMetrics, TokenLossSample, TrainEvent } from './protocol';
import { type RunConfig, activationDtype, streamOptions } from './run-config';
import { learningRate } from './schedule';
import { createTrainer, trainerConfig } from './trainer';
import { isQuotaError } from '../util/errors';

/** A base model as f32 weights in memory (the embedded model, full-parameter checkpoints of this app). */
export interface HostBaseModel {
  spec: ModelSpec;
  tokenizer: Tokenizer;
  tensors: TensorLookup;
}

/** The base model: in memory, or already on the GPU (checkpoints streamed from the model cache). */
export type BaseModel = HostBaseModel | { spec: ModelSpec; tokenizer: Tokenizer; model: Model };

export interface SessionDeps {
  gpu: Gpu;
  /**
   * Opens a new GPU device after the run's device was lost (a driver reset, the GPU out of memory, a tab in the
   * background too long): the run then reloads its model and goes on from its last checkpoint. Without it a lost
   * device ends the run with an error.
   */
  reopenGpu?(): Promise<Gpu>;
  /** The base model of the run on `gpu` (for a checkpoint source, its weights already resolved). */
  loadModel(config: RunConfig, onProgress: (done: number, total: number) => void, gpu: Gpu): Promise<BaseModel>;
  checkpoints: CheckpointStore;
  emit(event: TrainEvent): void;
}

/** How many times one run opens a new device after losing one before it gives up. */
export const MAX_DEVICE_RECOVERIES = 3;

/** A step whose loss or gradient norm is NaN or infinite: the run stops, and nothing of that step is saved. */
export class NonFiniteStepError extends Error {
  constructor(readonly step: number, what: string, keptStep: number | undefined) {
    const kept = keptStep === undefined ? 'there is no checkpoint yet' : `the checkpoint of step ${keptStep} is kept`;
    super(
      `Training stopped at step ${step}: ${what}. Nothing of this step was saved (${kept}). Lower the learning rate, or check the model's weights and the data, then start again.`,
    );
    this.name = 'NonFiniteStepError';
  }
}

/** The GPU device was lost and the run could not go on on a new one. */
export class GpuDeviceLostError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GpuDeviceLostError';
  }
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

/** Per-shot and per-task mean answer losses of one step, and each task's per-shot losses. */
export function stepLosses(
  contexts: PackedContext[],
  result: StepResult,
  batchSize: number,
): { shotLoss: number[]; taskLoss: Record<string, number>; taskShotLoss: Record<string, number[]> } {
  const shotSum: number[] = [];
  const shotCount: number[] = [];
  const taskSum: Record<string, number> = {};
  const taskCount: Record<string, number> = {};
  const taskShotSum: Record<string, number[]> = {};
  const taskShotCount: Record<string, number[]> = {};
  contexts.forEach((ctx, i) => {
    const perAnswer = result.answerLoss[Math.floor(i / batchSize)][i % batchSize];
    ctx.answers.forEach((answer, k) => {
      const loss = perAnswer[k];
      shotSum[answer.shot] = (shotSum[answer.shot] ?? 0) + loss;
      shotCount[answer.shot] = (shotCount[answer.shot] ?? 0) + 1;
      taskSum[answer.task] = (taskSum[answer.task] ?? 0) + loss;
      taskCount[answer.task] = (taskCount[answer.task] ?? 0) + 1;
      const sums = (taskShotSum[answer.task] ??= []);
      const counts = (taskShotCount[answer.task] ??= []);
      sums[answer.shot] = (sums[answer.shot] ?? 0) + loss;
      counts[answer.shot] = (counts[answer.shot] ?? 0) + 1;
    });
  });
  // A shot index no context of a task reached (mixed contexts only) is NaN: a gap in that task's curve.
  const means = (sums: number[], counts: number[]) => Array.from(sums, (sum, k) => (counts[k] ? sum / counts[k] : NaN));
  return {
    shotLoss: means(shotSum, shotCount),
    taskLoss: Object.fromEntries(Object.keys(taskSum).map((t) => [t, taskSum[t] / taskCount[t]])),
    taskShotLoss: Object.fromEntries(Object.keys(taskShotSum).map((t) => [t, means(taskShotSum[t], taskShotCount[t])])),
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

/**
 * Runs (or resumes from its checkpoint) one training run to its last step or until stopped. When the GPU device is
 * lost, it opens a new one (deps.reopenGpu), reloads the model and goes on from the last checkpoint, at most
 * MAX_DEVICE_RECOVERIES times; the data stream and the optimizer resume exactly, so the run ends as it would have.
 */
export async function runTraining(run: { id: string; config: RunConfig }, deps: SessionDeps, control: RunControl): Promise<void> {
  let gpu = deps.gpu;
  for (let recoveries = 0; ; recoveries++) {
    try {
      await trainOnDevice(run, { ...deps, gpu }, control, recoveries > 0);
      return;
    } catch (error) {
      // A non-finite step or a full disk is not the device's doing: no need to wait for a loss.
      const loss = error instanceof NonFiniteStepError || isQuotaError(error) ? null : await deviceLoss(gpu);
      if (!loss) throw error;
      const why = loss.message ? `${loss.reason}: ${loss.message}` : loss.reason;
      const saved = await deps.checkpoints.load(run.id);
      const goOn = saved ? `start the run again to go on from its checkpoint of step ${saved.step}` : 'it had no checkpoint yet, so starting it again begins at step 0';
      if (control.stopRequested) {
        deps.emit({ type: 'status', status: 'stopped', message: `The GPU device was lost (${why}) as the run stopped; ${goOn}` });
        return;
      }
      if (!deps.reopenGpu) throw new GpuDeviceLostError(`The GPU device was lost (${why}); ${goOn}.`, { cause: error });
      if (recoveries === MAX_DEVICE_RECOVERIES) {
        throw new GpuDeviceLostError(`The GPU device was lost ${recoveries + 1} times during this run (the last time: ${why}), so it stopped; ${goOn}.`, { cause: error });
      }
      deps.emit({ type: 'status', status: 'loading', message: `The GPU device was lost (${why}): opening a new one` });
      gpu = await deps.reopenGpu();
      if (control.stopRequested) {
        deps.emit({ type: 'status', status: 'stopped', message: `Stopped after the GPU device was lost; ${goOn}` });
        return;
      }
    }
  }
}

/**
 * The loss of the run's device, if it is lost. A readback that fails because the device is lost may settle before
 * the device's lost promise does: wait for that a moment.
 */
async function deviceLoss(gpu: Gpu): Promise<DeviceLoss | null> {
  if (gpu.lost) return gpu.lost;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 1000)));
  const loss = await Promise.race([gpu.whenLost, settled]);
  clearTimeout(timer);
  return loss;
}

/** One attempt on one device: load the model and the checkpoint, then train until done, stopped or failed. */
async function trainOnDevice(run: { id: string; config: RunConfig }, deps: SessionDeps, control: RunControl, afterDeviceLoss: boolean): Promise<void> {
  const { gpu, emit } = deps;
  const { config } = run;
  if (activationDtype(config) === 'f16') {
    // f16 runs may multiply on tensor cores or in f16 arithmetic, once that kernel passed its self-test on this
    // GPU (before the model takes its memory).
    const half = await verifyHalfMatmul(gpu);
    emit({ type: 'status', status: 'loading', message: `matrix products: ${describeHalfMatmul(half)}` });
  }
  emit({ type: 'status', status: 'loading', message: 'loading the model' });
  const base = await deps.loadModel(config, (done, total) => emit({ type: 'progress', label: 'model', done, total }), gpu);
  const checkpoint = await deps.checkpoints.load(run.id);
  if (checkpoint && checkpoint.mode !== config.mode) throw new Error(`the checkpoint of run ${run.id} is for ${checkpoint.mode} training`);
  if (afterDeviceLoss) {
    const from = checkpoint?.step ?? 0;
    emit({ type: 'recovered', step: from, message: `GPU device lost, resumed from step ${from}${checkpoint ? '' : ' (there was no checkpoint yet)'}` });
  }
  const opts = streamOptions(config, base.tokenizer);
  const model = 'model' in base ? base.model : Model.fromTensors(gpu, base.spec, restoredWeights(base.tensors, checkpoint));
  let plan: TrainingPlan | null = null;
  try {
    if ('model' in base && config.mode === 'full') {
      throw new Error('full-parameter training is for the embedded model; train a LoRA adapter on this model');
    }
    if (config.mode === 'lora') {
      plan = planTraining(base.spec, {
        batch: config.batchSize, seqLen: config.contextLength, recompute: config.recompute, activations: activationDtype(config), lora: config.lora,
        linearType: linearTypes(model), tableType: (name) => (name === WEIGHT_NAMES.lmHead ? model.lmHead : model.embedding).type ?? 'F32',
        limits: gpu.limits,
      });
      checkPlanFits(plan, gpu.limits);
      emit({ type: 'status', status: 'loading', message: `GPU memory plan: ${describePlan(plan)}` });
    }
  } catch (error) {
    model.destroy();
    throw error;
  }
  const training = createTrainer(gpu, model, { ...trainerConfig(config), seed: checkpoint ? undefined : config.seed });
  const { trainable, trainer } = training;
  try {
    let stream: ContextStream;
    let step = 0;
    if (checkpoint) {
      if (trainable instanceof LoraAdapter) gpu.write(trainable.params, checkpoint.params as Float32Array);
      gpu.write(trainable.m, checkpoint.m);
      gpu.write(trainable.v, checkpoint.v);
      trainable.step = checkpoint.step;
      stream = checkpoint.cursor ? ContextStream.resume(opts, checkpoint.cursor) : new ContextStream(opts);
      step = checkpoint.step;
    } else {
      stream = new ContextStream(opts);
    }

    let savedStep = checkpoint?.step;
    const save = async () => {
      const params = trainable instanceof LoraAdapter
        ? await gpu.readF32(trainable.params, trainable.count)
        : Object.fromEntries(await trainable.read());
      const saved: Checkpoint = {
        runId: run.id, step, mode: config.mode, params,
        m: await gpu.readF32(trainable.m, trainable.count), v: await gpu.readF32(trainable.v, trainable.count),
        cursor: stream.cursor, savedAt: Date.now(),
      };
      try {
        await deps.checkpoints.save(saved);
      } catch (error) {
        if (!isQuotaError(error)) throw error;
        const kept = savedStep === undefined ? 'there is no earlier checkpoint' : `the checkpoint of step ${savedStep} is kept`;
        throw new Error(
          `The browser's storage is full: could not save the checkpoint of step ${step} (${kept}). Free space (delete cached models or runs) and resume.`,
          { cause: error },
        );
      }
      savedStep = step;
      emit({ type: 'checkpoint', step });
    };

    emit({ type: 'status', status: 'running' });
    while (step < config.steps && !control.stopRequested) {
      await control.waitWhilePaused(() => emit({ type: 'status', status: 'paused' }));
      if (control.stopRequested) break;
      if (gpu.lost) throw new GpuDeviceLostError(`the GPU device was lost before step ${step + 1}`);
      emit({ type: 'status', status: 'running' });
      const contexts = stream.next(config.batchSize * config.gradAccumulation);
      const microBatches = [];
      for (let i = 0; i < contexts.length; i += config.batchSize) microBatches.push(toSequenceBatch(contexts.slice(i, i + config.batchSize)));
      const lr = learningRate(step + 1, config);
      const t0 = performance.now();
      const result = await trainer.step(microBatches, { lr }).catch((error: unknown) => {
        throw outOfMemory(error, plan) ?? error;
      });
      const stepMs = performance.now() - t0;
      const nonFinite = [
        ...(Number.isFinite(result.loss) ? [] : [`the loss is ${result.loss}`]),
        ...(Number.isFinite(result.gradNorm) ? [] : [`the gradient norm is ${result.gradNorm}`]),
      ];
      if (nonFinite.length > 0) throw new NonFiniteStepError(step + 1, nonFinite.join(' and '), savedStep);
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
    training.destroy();
  }
}

/** A full-parameter checkpoint's weights in place of the base model's. */
function restoredWeights(tensors: TensorLookup, checkpoint: Checkpoint | undefined): TensorLookup {
  if (checkpoint?.mode !== 'full') return tensors;
  const params = checkpoint.params as Record<string, Float32Array>;
  return (name) => {
    const t = tensors(name);
    return params[name] && t ? { shape: t.shape, data: params[name] } : t;
  };
}

/** How the model stores each linear weight, by HF name, for the memory plan. */
function linearTypes(model: Model): (name: string) => GgmlType | 'F32' {
  const types = new Map<string, GgmlType | 'F32'>();
  for (const layer of model.layers) {
    for (const w of [layer.q, layer.k, layer.v, layer.o, layer.gate, layer.up, layer.down]) {
      types.set(model.names.get(w.buffer) ?? '', w.kind === 'quant' ? w.type : 'F32');
    }
  }
  return (name) => types.get(name) ?? 'F32';
}

/** A GPU out-of-memory failure, said in terms of the run's memory plan. */
function outOfMemory(error: unknown, plan: TrainingPlan | null): GpuTooSmallError | null {
  const isMemory = error instanceof GpuOutOfMemoryError || (error instanceof GpuError && /out of memory|allocation/i.test(error.message));
  if (!isMemory) return null;
  const needs = plan ? `the run needs ${describePlan(plan)}` : 'the run needs more memory than the GPU has';
  return new GpuTooSmallError(
    `The GPU ran out of memory: ${needs}. Turn on activation recomputation, shorten the context or the batch, or pick a smaller or more quantized model. (${(error as Error).message})`,
  );
}
