// The GPU memory a LoRA training run needs, buffer by buffer, computed from the shapes alone (before any
// download or allocation): what the model, the adapter, the activations and the loss allocate, how the
// embedding and the LM head split under the binding limit, and whether it all fits this GPU.
// planForGguf plans a GGUF file from its header alone (its real per-tensor types).
import { formatBytes } from '../util/format';
import { type GgmlType, tensorBytes } from './ggml';
import { LORA_TARGETS, type LoraTarget, type ModelSpec, linearModulePath, linearShape } from './spec';
import type { ActivationDtype } from './activations';
import { crossEntropyChunkColumns } from './ops/cross_entropy';
import { packedF16Bytes } from './ops/half';
import { gradNormScratchSize } from './ops/grad_norm';
import { tableRowBytes, tableRowRanges } from './vocab-table';

export type PlanGroup = 'weights' | 'lora' | 'activations' | 'loss';

export interface PlannedBuffer {
  name: string;
  bytes: number;
  /** How many buffers of this name and size (one per layer, per table part...). */
  count: number;
  group: PlanGroup;
}

export interface PlanLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface PlanOptions {
  batch: number;
  seqLen: number;
  lora: { rank: number; targets: readonly LoraTarget[] };
  recompute: boolean;
  /** How the saved layer inputs are stored (ActivationOptions.dtype); default 'f32'. */
  activations?: ActivationDtype;
  /** Answer tokens of the largest micro-batch (the cross-entropy rows); default every token. */
  targets?: number;
  /** How each linear weight is stored on the GPU (by HF name): as in the file, or quantized on load. */
  linearType(name: string): GgmlType | 'F32';
  /**
   * How the embedding and the LM head are stored on the GPU (by HF name): 'F32' (the default), or the GGML
   * type of a quantized checkpoint's table (tableTypeOnGpu of the file's type).
   */
  tableType?(name: string): GgmlType;
  limits: PlanLimits;
}

export interface TrainingPlan {
  buffers: PlannedBuffer[];
  totalBytes: number;
  bytesByGroup: Record<PlanGroup, number>;
  /** The largest single binding. */
  largest: PlannedBuffer;
  /** Parts of the embedding table. */
  tableParts: number;
}

const F32 = 4;

/** Every buffer a LoRA training step allocates (the same sizes Model, LoraAdapter, Activations and Trainer make). */
export function planTraining(spec: ModelSpec, options: PlanOptions): TrainingPlan {
  const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: V, numLayers: L } = spec;
  const N = options.batch * options.seqLen;
  const P = Math.min(options.targets ?? N, N);
  const { rank, targets } = options.lora;
  const buffers: PlannedBuffer[] = [];
  const add = (group: PlanGroup, name: string, bytes: number, count = 1) => {
    if (count > 0) buffers.push({ name, bytes: Math.max(4, Math.ceil(bytes / 4) * 4), count, group });
  };

  // Weights: linear layers as stored, norms f32, the embedding and LM head f32 or GGML blocks, in parts.
  const maxPart = Math.min(options.limits.maxStorageBufferBindingSize, options.limits.maxBufferSize);
  const tables = spec.tieWordEmbeddings ? ['model.embed_tokens.weight'] : ['model.embed_tokens.weight', 'lm_head.weight'];
  let tableParts = 0;
  for (const table of tables) {
    const type = options.tableType?.(table) ?? 'F32';
    const parts = tableRowRanges(V, d, maxPart, type);
    if (table === tables[0]) tableParts = parts.length;
    for (const part of parts) {
      const name = `${table}[${part.firstRow}:${part.firstRow + part.rows}]`;
      add('weights', type === 'F32' ? name : `${name} (${type})`, part.rows * tableRowBytes(d, type));
    }
  }
  for (let l = 0; l < L; l++) {
    for (const target of LORA_TARGETS) {
      const name = `${linearModulePath(l, target)}.weight`;
      const [out, inF] = linearShape(spec, target);
      const type = options.linearType(name);
      add('weights', name, type === 'F32' ? out * inF * F32 : tensorBytes(type, out * inF));
    }
  }
  add('weights', 'norms', d * F32, 2 * L + 1);
  add('weights', 'rope.inv_freq', (hd / 2) * F32);

  // LoRA: parameters, gradients and the two AdamW moments in one flat buffer each; grad-norm scratch.
  const loraCount = L * targets.reduce((n, t) => { const [out, inF] = linearShape(spec, t); return n + rank * (out + inF); }, 0);
  add('lora', 'lora.params/grads/adam_m/adam_v', loraCount * F32, 4);
  add('lora', 'grad_norm', 8);
  add('lora', 'grad_norm.partials', gradNormScratchSize(loraCount));

  // Activations (activations.ts): the residual stream, each layer's saved tensors, the gradients (the MLP's go
  // over its own activations, d hidden shares d norm_out's buffer).
  const layerCopies = options.recompute ? 1 : L;
  if (options.activations === 'f16') {
    add('activations', 'resid', N * d * F32);
    add('activations', 'resid (f16)', packedF16Bytes(N * d), L);
  } else {
    add('activations', 'resid', N * d * F32, L + 1);
  }
  // Recomputed: attn_norm_out and mlp_norm_out share one buffer (which also holds the final-normed hidden).
  if (options.recompute) add('activations', 'layer: norm_out, mid', N * d * F32, 2);
  else add('activations', 'layer: attn_norm_out, mid, mlp_norm_out', N * d * F32, 3 * layerCopies);
  add('activations', 'layer: attn_rstd, mlp_rstd', N * F32, 2 * layerCopies);
  add('activations', 'layer: q, attn_out', N * h * hd * F32, 2 * layerCopies);
  add('activations', 'layer: k, v', N * kv * hd * F32, 2 * layerCopies);
  add('activations', 'layer: attn_lse', N * h * F32, layerCopies);
  add('activations', 'layer: gate, up, act', N * f * F32, 3 * layerCopies);
  add('activations', 'layer: lora_h', N * rank * F32, targets.length * layerCopies);
  if (!options.recompute) add('activations', 'hidden', N * d * F32); // else in the layer scratch's mlp_norm_out
  add('activations', 'final_rstd', N * F32);
  add('activations', 'd: resid, norm_out (and hidden)', N * d * F32, 2);
  add('activations', 'd: attn_out, q', N * h * hd * F32, 2);
  add('activations', 'd: k, v', N * kv * hd * F32, 2);
  add('activations', 'd: attn_delta', N * h * F32);
  add('activations', 'd: lora_h', N * Math.max(1, rank) * F32);
  add('activations', 'input_ids, attention_mask', N * 4, 2);

  // The loss: target rows only, logits in vocabulary chunks (createCrossEntropyScratch in cross_entropy.ts).
  const rows = Math.max(1, P);
  const chunk = crossEntropyChunkColumns(rows, V, Math.min(64 * 1024 * 1024, maxPart));
  add('loss', 'target_rows, target_labels, target_weights, token_loss', rows * 4, 4);
  add('loss', 'cross-entropy gathered, dGathered', rows * d * F32, 2);
  add('loss', 'cross-entropy logits chunk', rows * chunk * F32);
  add('loss', 'cross-entropy stats', rows * 4 * F32);

  const bytesByGroup: Record<PlanGroup, number> = { weights: 0, lora: 0, activations: 0, loss: 0 };
  for (const b of buffers) bytesByGroup[b.group] += b.bytes * b.count;
  const totalBytes = Object.values(bytesByGroup).reduce((a, b) => a + b, 0);
  const largest = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { buffers, totalBytes, bytesByGroup, largest, tableParts };
}

const TOO_BIG_ADVICE: Record<PlanGroup, string> = {
  weights: 'Pick a smaller or more quantized model',
  lora: 'Lower the LoRA rank or adapt fewer projections',
  activations: 'Shorten the context or the batch (activations grow with batch x length)',
  loss: 'Shorten the context or the batch',
};

export class GpuTooSmallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuTooSmallError';
  }
}

/** A few words on where the memory goes, e.g. for a progress line or an out-of-memory message. */
export function describePlan(plan: TrainingPlan): string {
  const g = plan.bytesByGroup;
  return `${formatBytes(plan.totalBytes)} on the GPU (weights ${formatBytes(g.weights)}, LoRA ${formatBytes(g.lora)}, ` +
    `activations ${formatBytes(g.activations)}, loss ${formatBytes(g.loss)}; largest buffer ${plan.largest.name} ${formatBytes(plan.largest.bytes)})`;
}

/**
 * Throws GpuTooSmallError naming the buffer when one binding exceeds the GPU's limits, or the total exceeds
 * memoryBytes (when the caller knows the GPU's memory; WebGPU does not say).
 */
export function checkPlanFits(plan: TrainingPlan, limits: PlanLimits, memoryBytes?: number): void {
  const maxBinding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const tooBig = plan.buffers.filter((b) => b.bytes > maxBinding).sort((a, b) => b.bytes - a.bytes);
  if (tooBig.length > 0) {
    const names = tooBig.map((b) => `${b.name} (${formatBytes(b.bytes)})`).join(', ');
    const advice = [...new Set(tooBig.map((b) => TOO_BIG_ADVICE[b.group]))].join('; ');
    throw new GpuTooSmallError(
      `This GPU is too small for the run: it binds at most ${formatBytes(maxBinding)} per buffer, and these need more: ${names}. ${advice}.`,
    );
  }
  if (memoryBytes !== undefined && plan.totalBytes > memoryBytes) {
    throw new GpuTooSmallError(
      `This GPU is too small for the run: it needs ${describePlan(plan)}, and the GPU has about ${formatBytes(memoryBytes)}. ` +
        'Turn on activation recomputation, shorten the context, or pick a smaller or more quantized model.',
    );
  }
}
