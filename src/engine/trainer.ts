// One optimizer step of LoRA training: micro-batches through forward, masked multi-answer cross-entropy and
// backward in one command encoder, then gradient clipping and AdamW; one readback of the per-token losses.
import type { Gpu } from '../gpu/gpu';
import type { FullParameters } from './full';
import { LoraAdapter } from './lora';
import { backward, forward } from './model';
import { type ActivationDtype, Activations, type InputBuffers } from './activations';
import type { Model } from './weights';
import { type AdamWSettings, adamwStep } from './ops/adamw';
import { createCrossEntropyScratch, crossEntropyBackward, crossEntropyForward, lmHeadLogits } from './ops/cross_entropy';
import { groupRowsByToken } from './ops/embedding';
import { globalGradNorm, gradNormScratchSize } from './ops/grad_norm';

/** Sequences of one micro-batch, as HF would take them. */
export interface SequenceBatch {
  inputIds: number[][]; // [B][T]
  attentionMask: number[][]; // [B][T]: 1 real, 0 padding
  /** [B][T]: -100 for no loss; the label at t is predicted by position t-1 (HF alignment). */
  labels: number[][];
  /** [B][k]: label positions [start, end) of each in-context answer; the last is the final answer. */
  answerSpans: [number, number][][];
}

/** Which answer tokens carry the loss: every answer (ManyICL) or only the final one (few-shot fine-tuning). */
export type Objective = 'manyicl' | 'last-answer';

export interface TrainerOptions {
  objective: Objective;
  adamw: AdamWSettings;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxGradNorm: number;
  /** Recompute each layer's activations in the backward pass instead of keeping them. */
  recompute: boolean;
  /** How the saved layer inputs are stored (ActivationOptions.dtype); default 'f32'. */
  activations?: ActivationDtype;
}

export interface StepResult {
  /** Mean cross-entropy over the objective's target tokens, all micro-batches together. */
  loss: number;
  /** Objective target tokens in the step. */
  targetTokens: number;
  /** Per micro-batch, [B][T]: the loss of the label at t (0 where t has no label). Every answer token is scored, whatever the objective. */
  tokenLoss: Float32Array[][];
  /** Per micro-batch, [B][k]: mean loss of each answer span. */
  answerLoss: number[][][];
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** The flat gradient of the trained parameters before the AdamW update, when asked for. */
  gradients?: Float32Array;
  /** CPU milliseconds spent recording the step's commands, from the step's start to its submit. */
  encodeMs: number;
}

interface Targets {
  rows: Uint32Array; // row b*T + t-1 predicts the label at t
  labels: Uint32Array;
  inObjective: Uint8Array;
  positions: [number, number][]; // [b, t] of each target
}

/** Every labelled token is a target; the objective decides which ones carry loss. */
export function collectTargets(batch: SequenceBatch, objective: Objective, vocab: number): Targets {
  const T = batch.inputIds[0]?.length ?? 0;
  const rows: number[] = [];
  const labels: number[] = [];
  const inObjective: number[] = [];
  const positions: [number, number][] = [];
  batch.labels.forEach((seq, b) => {
    if (seq.length !== T) throw new Error(`sequence ${b} has ${seq.length} labels, expected ${T}`);
    const last = batch.answerSpans[b]?.at(-1);
    for (let t = 1; t < T; t++) {
      const label = seq[t];
      if (label === -100) continue;
      if (!Number.isInteger(label) || label < 0 || label >= vocab) throw new Error(`label ${label} at [${b}, ${t}] is outside the vocabulary (${vocab})`);
      rows.push(b * T + t - 1);
      labels.push(label);
      inObjective.push(objective === 'manyicl' || (last !== undefined && t >= last[0] && t < last[1]) ? 1 : 0);
      positions.push([b, t]);
    }
  });
  return { rows: Uint32Array.from(rows), labels: Uint32Array.from(labels), inObjective: Uint8Array.from(inObjective), positions };
}

function checkBatch(batch: SequenceBatch, vocab: number): { B: number; T: number } {
  const B = batch.inputIds.length;
  const T = batch.inputIds[0]?.length ?? 0;
  if (B === 0 || T === 0) throw new Error('empty batch');
  for (let b = 0; b < B; b++) {
    if (batch.inputIds[b].length !== T || batch.attentionMask[b]?.length !== T) throw new Error(`sequence ${b} is not ${T} tokens long`);
    for (const id of batch.inputIds[b]) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`token id ${id} in sequence ${b} is outside the vocabulary (${vocab})`);
    }
  }
  return { B, T };
}

/** What the optimizer updates: a LoRA adapter, or every weight of the model. */
export type Trainable = LoraAdapter | FullParameters;

export class Trainer {
  private readonly gpu: Gpu;
  private readonly lora: LoraAdapter | null;
  private activations: Activations | null = null;
  private readonly normOut: GPUBuffer;
  private readonly normScratch: GPUBuffer;

  constructor(
    readonly model: Model,
    readonly trainable: Trainable,
    readonly options: TrainerOptions,
  ) {
    this.gpu = model.gpu;
    this.lora = trainable instanceof LoraAdapter ? trainable : null;
    this.normOut = this.gpu.buffer('grad_norm', 8);
    this.normScratch = this.gpu.buffer('grad_norm.partials', gradNormScratchSize(trainable.count));
  }

  /** Activations for this batch shape, kept while the shape stays the same. */
  private activationsFor(B: number, T: number, withGradients: boolean): Activations {
    const a = this.activations;
    if (a && a.batch === B && a.seqLen === T && (a.grads !== null || !withGradients)) return a;
    a?.destroy();
    this.activations = new Activations(
      this.gpu, this.model.spec, B, T, this.lora?.config.rank ?? 0, this.lora?.config.targets ?? [],
      { recompute: this.options.recompute, dtype: this.options.activations }, withGradients,
    );
    return this.activations;
  }

  private uploadInputs(batch: SequenceBatch): InputBuffers {
    return {
      ids: this.gpu.upload('input_ids', Uint32Array.from(batch.inputIds.flat())),
      mask: this.gpu.upload('attention_mask', Uint32Array.from(batch.attentionMask.flat())),
    };
  }

  /** One optimizer step over the micro-batches (gradient accumulation), normalised by their total target tokens. */
  async step(
    microBatches: SequenceBatch[],
    opts: { lr?: number; objective?: Objective; captureGradients?: boolean } = {},
  ): Promise<StepResult> {
    const startedAt = performance.now();
    const { gpu, model, lora, trainable } = this;
    const weightGrads = 'modelGrads' in trainable ? trainable.modelGrads : null;
    const spec = model.spec;
    const V = spec.vocabSize;
    const D = spec.hiddenSize;
    if (microBatches.length === 0) throw new Error('a step needs at least one micro-batch');
    const shapes = microBatches.map((mb) => checkBatch(mb, V));
    if (shapes.some((s) => s.B !== shapes[0].B || s.T !== shapes[0].T)) {
      throw new Error('the micro-batches of one step must share one [batch, length] shape');
    }
    const objective = opts.objective ?? this.options.objective;
    const targets = microBatches.map((mb) => collectTargets(mb, objective, V));
    const total = targets.reduce((n, t) => n + t.inObjective.reduce((a, x) => a + x, 0), 0);
    if (total === 0) throw new Error('the batch has no target tokens for this objective');

    const temporary: GPUBuffer[] = [];
    const groups: { destroy(): void }[] = [];
    // Passes run in encoder order, so one scratch sized for the largest micro-batch serves them all.
    const scratch = createCrossEntropyScratch(gpu, Math.max(...targets.map((t) => t.rows.length)), D, V);
    const tokenLossBuffers: GPUBuffer[] = [];
    const encoder = gpu.device.createCommandEncoder({ label: 'train_step' });
    trainable.beginStep(encoder);
    microBatches.forEach((mb, i) => {
      const { B, T } = shapes[i];
      const P = targets[i].rows.length;
      const acts = this.activationsFor(B, T, true);
      const inputs = this.uploadInputs(mb);
      if (weightGrads) inputs.embeddingGroups = groupRowsByToken(gpu, Uint32Array.from(mb.inputIds.flat()));
      const weights = Float32Array.from(targets[i].inObjective, (x) => x / total);
      const targetRows = gpu.upload('target_rows', targets[i].rows);
      const targetLabels = gpu.upload('target_labels', targets[i].labels);
      const targetWeights = gpu.upload('target_weights', weights);
      const tokenLoss = gpu.buffer('token_loss', P * 4);
      temporary.push(inputs.ids, inputs.mask, targetRows, targetLabels, targetWeights, tokenLoss);
      if (inputs.embeddingGroups) groups.push(inputs.embeddingGroups);
      tokenLossBuffers.push(tokenLoss);

      forward(encoder, model, lora, acts, inputs);
      const ce = { hidden: acts.hidden, weight: model.lmHead, targetRows, targetLabels, targets: P, dim: D, vocab: V, scratch };
      crossEntropyForward(gpu, encoder, { ...ce, tokenLoss, label: 'cross_entropy' });
      const G = acts.grads!;
      encoder.clearBuffer(G.hidden);
      crossEntropyBackward(gpu, encoder, { ...ce, targetWeights, dHidden: G.hidden, dWeight: weightGrads?.lmHead, label: 'cross_entropy.backward' });
      backward(encoder, model, lora, acts, inputs, weightGrads);
    });

    trainable.gatherGradients(encoder);
    globalGradNorm(gpu, encoder, { grads: trainable.grads, count: trainable.count, partials: this.normScratch, out: this.normOut, maxNorm: this.options.maxGradNorm, label: 'grad_norm' });
    let gradStaging: GPUBuffer | null = null;
    if (opts.captureGradients) {
      gradStaging = gpu.device.createBuffer({ size: trainable.count * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      encoder.copyBufferToBuffer(trainable.grads, 0, gradStaging, 0, trainable.count * 4);
    }
    trainable.step += 1;
    adamwStep(gpu, encoder, {
      ...this.options.adamw, lr: opts.lr ?? this.options.adamw.lr, params: trainable.params, grads: trainable.grads,
      m: trainable.m, v: trainable.v, count: trainable.count, step: trainable.step, gradScale: this.normOut, label: 'adamw',
    });
    trainable.afterUpdate(encoder);

    // One readback: every micro-batch's token losses, then the gradient norm.
    const lossCounts = targets.map((t) => t.rows.length);
    const lossBytes = lossCounts.reduce((a, n) => a + n, 0) * 4;
    const staging = gpu.device.createBuffer({ size: lossBytes + 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let offset = 0;
    tokenLossBuffers.forEach((buffer, i) => {
      if (lossCounts[i] > 0) encoder.copyBufferToBuffer(buffer, 0, staging, offset, lossCounts[i] * 4);
      offset += lossCounts[i] * 4;
    });
    encoder.copyBufferToBuffer(this.normOut, 0, staging, lossBytes, 8);
    gpu.device.queue.submit([encoder.finish()]);
    const encodeMs = performance.now() - startedAt;

    try {
      await staging.mapAsync(GPUMapMode.READ);
      const values = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      let gradients: Float32Array | undefined;
      if (gradStaging) {
        await gradStaging.mapAsync(GPUMapMode.READ);
        gradients = new Float32Array(gradStaging.getMappedRange().slice(0));
        gradStaging.unmap();
      }
      gpu.checkErrors();
      let loss = 0;
      let start = 0;
      const tokenLoss: Float32Array[][] = [];
      const answerLoss: number[][][] = [];
      microBatches.forEach((mb, i) => {
        const { B, T } = shapes[i];
        const perSeq = Array.from({ length: B }, () => new Float32Array(T));
        targets[i].positions.forEach(([b, t], p) => {
          const value = values[start + p];
          perSeq[b][t] = value;
          if (targets[i].inObjective[p]) loss += value;
        });
        start += lossCounts[i];
        tokenLoss.push(perSeq);
        answerLoss.push(mb.answerSpans.map((spans, b) => spans.map(([s, e]) => meanOf(perSeq[b], s, e))));
      });
      return { loss: loss / total, targetTokens: total, tokenLoss, answerLoss, gradNorm: values[lossBytes / 4], gradients, encodeMs };
    } finally {
      staging.destroy();
      gradStaging?.destroy();
      gpu.destroy(...temporary);
      for (const g of groups) g.destroy();
      scratch.destroy();
    }
  }

  /** Makes every buffer a step of this shape needs, without running it: shows the memory plan. */
  allocate(B: number, T: number, sample: SequenceBatch): void {
    this.activationsFor(B, T, true);
    const P = collectTargets(sample, this.options.objective, this.model.spec.vocabSize).rows.length;
    const scratch = createCrossEntropyScratch(this.gpu, P, this.model.spec.hiddenSize, this.model.spec.vocabSize);
    scratch.destroy(); // peakBytes has counted it
  }

  /** Losses of every answer token of a batch, without training: [B][T] per token and [B][k] per answer. */
  async evaluate(batch: SequenceBatch): Promise<AnswerLosses> {
    const { B, T } = checkBatch(batch, this.model.spec.vocabSize);
    return answerLosses(this.model, this.lora, batch, this.activationsFor(B, T, false));
  }

  /** Full logits [B*T, V] of a batch with the adapter applied: for evaluation and the reference check. */
  async logits(batch: SequenceBatch): Promise<Float32Array> {
    const { gpu, model, lora } = this;
    const { B, T } = checkBatch(batch, model.spec.vocabSize);
    const acts = this.activationsFor(B, T, false);
    const inputs = this.uploadInputs(batch);
    const logits = gpu.buffer('logits', B * T * model.spec.vocabSize * 4);
    try {
      await gpu.submit((encoder) => {
        forward(encoder, model, lora, acts, inputs);
        lmHeadLogits(gpu, encoder, { hidden: acts.hidden, weight: model.lmHead, rows: B * T, dim: model.spec.hiddenSize, vocab: model.spec.vocabSize, logits, label: 'lm_head' });
      });
      return await gpu.readF32(logits);
    } finally {
      gpu.destroy(inputs.ids, inputs.mask, logits);
    }
  }

  destroy(): void {
    this.activations?.destroy();
    this.activations = null;
    this.gpu.destroy(this.normOut, this.normScratch);
  }
}

export interface AnswerLosses {
  /** [B][T]: the loss of each answer token, 0 elsewhere. */
  tokenLoss: Float32Array[];
  /** [B][k]: the mean loss of each answer span. */
  answerLoss: number[][];
}

/**
 * The loss of every answer token of a batch under the model (with the adapter, if any), without training. Uses
 * `acts` when given (sized for the batch), else activations of its own, recomputed per layer and then freed.
 */
export async function answerLosses(model: Model, lora: LoraAdapter | null, batch: SequenceBatch, acts?: Activations): Promise<AnswerLosses> {
  const { gpu } = model;
  const { hiddenSize: D, vocabSize: V } = model.spec;
  const { B, T } = checkBatch(batch, V);
  const targets = collectTargets(batch, 'manyicl', V);
  const P = targets.rows.length;
  const own = acts ? null : new Activations(gpu, model.spec, B, T, lora?.config.rank ?? 0, lora?.config.targets ?? [], { recompute: true }, false);
  const activations = (acts ?? own)!;
  const inputs = {
    ids: gpu.upload('input_ids', Uint32Array.from(batch.inputIds.flat())),
    mask: gpu.upload('attention_mask', Uint32Array.from(batch.attentionMask.flat())),
  };
  const targetRows = gpu.upload('target_rows', targets.rows);
  const targetLabels = gpu.upload('target_labels', targets.labels);
  const tokenLossBuffer = gpu.buffer('token_loss', P * 4);
  const scratch = createCrossEntropyScratch(gpu, P, D, V);
  try {
    await gpu.submit((encoder) => {
      forward(encoder, model, lora, activations, inputs);
      crossEntropyForward(gpu, encoder, {
        hidden: activations.hidden, weight: model.lmHead, targetRows, targetLabels, targets: P, dim: D, vocab: V, scratch,
        tokenLoss: tokenLossBuffer, label: 'cross_entropy',
      });
    });
    const values = await gpu.readF32(tokenLossBuffer, P);
    const tokenLoss = Array.from({ length: B }, () => new Float32Array(T));
    targets.positions.forEach(([b, t], p) => (tokenLoss[b][t] = values[p]));
    return { tokenLoss, answerLoss: batch.answerSpans.map((spans, b) => spans.map(([start, end]) => meanOf(tokenLoss[b], start, end))) };
  } finally {
    gpu.destroy(inputs.ids, inputs.mask, targetRows, targetLabels, tokenLossBuffer);
    scratch.destroy();
    own?.destroy();
  }
}

function meanOf(values: Float32Array, start: number, end: number): number {
  let sum = 0;
  for (let t = start; t < end; t++) sum += values[t];
  return end > start ? sum / (end - start) : 0;
}
