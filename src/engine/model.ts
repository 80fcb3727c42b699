// The Llama/Mistral decoder on the GPU, forward and backward written out layer by layer (after llm.c).
// Base weights are frozen; LoRA pairs adapt the linear layers. Every saved activation has a name.
import type { Gpu } from '../gpu/gpu';
import { type GgmlType, blockSize, tensorBytes } from './ggml';
import { type BaseWeight, type LinearCall, type LinearGradients, loraLinearBackward, loraLinearForward } from './linear';
import type { LoraAdapter } from './lora';
import { attentionBackward, attentionForward } from './ops/attention';
import { type EmbeddingGradGroups, embeddingBackward, embeddingForward } from './ops/embedding';
import { fillUniform } from './ops/fill';
import { f32RowsOf } from './ops/dequantize';
import { type QuantWeight, checkQuantWeight, uploadQuantWeight } from './ops/matmul_quant';
import { rmsnormBackward, rmsnormForward, rmsnormWeightGrad } from './ops/rmsnorm';
import { ropeBackward, ropeForward } from './ops/rope';
import { swigluBackward, swigluForward } from './ops/swiglu';
import { ropeInverseFrequencies } from './rope';
import type { LoraTarget, ModelSpec } from './spec';
import { type VocabTable, tableRowRanges } from './vocab-table';

export interface LayerWeights {
  attnNorm: GPUBuffer;
  q: BaseWeight;
  k: BaseWeight;
  v: BaseWeight;
  o: BaseWeight;
  mlpNorm: GPUBuffer;
  gate: BaseWeight;
  up: BaseWeight;
  down: BaseWeight;
}

/** A named tensor as a loader hands it over. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorLookup = (name: string) => HostTensor | undefined;

/** A tensor as a quantized checkpoint stores it: raw GGML blocks (HF layout [out, in], rows in HF order). */
export interface EncodedTensor {
  type: GgmlType;
  shape: number[];
  bytes: Uint8Array;
  /** The exact f32 values. */
  dequantize(): Float32Array;
}

export type EncodedLookup = (name: string) => EncodedTensor | undefined;

/** A tensor whose raw bytes are on the GPU as the file stores them (q/k rows already in HF order). */
export interface GpuTensor {
  type: GgmlType;
  /** HF order: [out, in] for a matrix, [n] for a vector. */
  shape: number[];
  /** At least the tensor's bytes (tensorBytes(type, elements)), padded to a multiple of 4. */
  buffer: GPUBuffer;
}

export type GpuTensorLookup = (name: string) => GpuTensor | undefined;

/** Rows [firstRow, firstRow + rows) of a 2-D tensor: one part of a table split over bindings. */
export interface RowRange {
  firstRow: number;
  rows: number;
}

export interface ModelOptions {
  /** Largest buffer for one part of the embedding or LM head; default the device's binding limit. */
  maxTablePartBytes?: number;
}

/** The given rows of a row-major [R, C] array (all of it when `rows` is absent). */
function rowsOf(data: Float32Array, shape: number[], rows?: RowRange): Float32Array {
  if (!rows) return data;
  return data.subarray(rows.firstRow * shape[1], (rows.firstRow + rows.rows) * shape[1]);
}

/** The named tensor, which must exist with the shape the spec implies. */
function checked<T extends { shape: number[] }>(lookup: (name: string) => T | undefined, name: string, shape: number[]): T {
  const t = lookup(name);
  if (!t) throw new Error(`the weights lack ${name}`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new Error(`${name} has shape [${t.shape}], but the model's config implies [${shape}]`);
  }
  return t;
}

export class Model {
  readonly layers: LayerWeights[] = [];
  /** embed_tokens.weight [V, D], in row parts when it outgrows one binding. */
  readonly embedding: VocabTable;
  readonly finalNorm: GPUBuffer;
  /** lm_head.weight [V, D], or the embedding table when tied. */
  readonly lmHead: VocabTable;
  readonly invFreq: GPUBuffer;
  /** The HF name of every weight buffer. */
  readonly names = new Map<GPUBuffer, string>();
  private readonly owned: GPUBuffer[] = [];

  /** f32 base weights by their HF names, every shape checked against the spec. */
  static fromTensors(gpu: Gpu, spec: ModelSpec, tensors: TensorLookup, options: ModelOptions = {}): Model {
    return new Model(gpu, spec, options, (name, shape, rows) => gpu.upload(name, rowsOf(checked(tensors, name, shape).data, shape, rows)));
  }

  /**
   * Base weights as a checkpoint stores them (GGUF): the linear layers stay in their GGML blocks on the GPU and
   * are dequantized inside the matmuls; norms, the embedding and the LM head are dequantized to f32 on load.
   */
  static fromEncoded(gpu: Gpu, spec: ModelSpec, tensors: EncodedLookup, options: ModelOptions = {}): Model {
    const encoded = (name: string, shape: number[]) => checked(tensors, name, shape);
    return new Model(
      gpu, spec, options,
      (name, shape, rows) => gpu.upload(name, rowsOf(encoded(name, shape).dequantize(), shape, rows)),
      (name, out, inF) => {
        const t = encoded(name, [out, inF]);
        if (t.type === 'F32') return { kind: 'f32', buffer: gpu.upload(name, t.dequantize()), outFeatures: out, inFeatures: inF };
        return uploadQuantWeight(gpu, name, t.type, t.bytes, out, inF);
      },
    );
  }

  /**
   * Base weights whose raw bytes a streaming loader already put on the GPU. Linear layers keep their buffers
   * (F32, or GGML blocks that the quant matmul reads); norms, the embedding and the LM head become f32 buffers:
   * F32 ones are kept as they are (when whole), others are decoded on the GPU and their raw buffers destroyed.
   * Once this returns the Model owns every buffer it took; when it throws, the caller still frees all it passed
   * in (destroying a buffer twice is harmless).
   */
  static fromGpuTensors(gpu: Gpu, spec: ModelSpec, tensors: GpuTensorLookup, options: ModelOptions = {}): Model {
    const tensor = (name: string, shape: number[]): GpuTensor => {
      const t = checked(tensors, name, shape);
      const cols = shape[shape.length - 1];
      if (cols % blockSize(t.type) !== 0) throw new Error(`${name}: ${t.type} rows hold whole blocks of ${blockSize(t.type)} values, not ${cols}`);
      const bytes = tensorBytes(t.type, shape.reduce((a, b) => a * b, 1));
      if (t.buffer.size < bytes) throw new Error(`${name}: ${t.type} [${shape}] needs ${bytes} bytes, its buffer has ${t.buffer.size}`);
      return t;
    };
    const kept = new Set<GPUBuffer>(); // raw buffers the Model holds as they are
    const decoded = new Set<GPUBuffer>(); // raw buffers read into new f32 buffers
    const dense = (name: string, shape: number[], rows?: RowRange): GPUBuffer => {
      const t = tensor(name, shape);
      if (t.type === 'F32' && !rows) {
        kept.add(t.buffer);
        return t.buffer;
      }
      decoded.add(t.buffer);
      const { firstRow, rows: count } = rows ?? { firstRow: 0, rows: shape.length === 2 ? shape[0] : 1 };
      return f32RowsOf(gpu, name, { type: t.type, encoded: t.buffer, cols: shape[shape.length - 1] }, firstRow, count);
    };
    const linear = (name: string, out: number, inF: number): BaseWeight => {
      const t = tensor(name, [out, inF]);
      if (t.type === 'F32') {
        kept.add(t.buffer);
        return { kind: 'f32', buffer: t.buffer, outFeatures: out, inFeatures: inF };
      }
      const w: QuantWeight = { kind: 'quant', type: t.type, buffer: t.buffer, outFeatures: out, inFeatures: inF };
      checkQuantWeight(w);
      kept.add(t.buffer);
      return w;
    };
    try {
      return new Model(gpu, spec, options, dense, linear);
    } finally {
      gpu.destroy(...[...decoded].filter((buffer) => !kept.has(buffer)));
    }
  }

  /** Random weights made on the GPU (for benchmarks): linear layers U(-1/sqrt(in), 1/sqrt(in)), norms near 1. */
  static random(gpu: Gpu, spec: ModelSpec, seed: number, options: ModelOptions = {}): Model {
    let n = 0;
    return new Model(gpu, spec, options, (name, shape, rows) => {
      const count = rows ? rows.rows * shape[1] : shape.reduce((a, b) => a * b, 1);
      const buffer = gpu.buffer(name, count * 4);
      const isNorm = shape.length === 1;
      const encoder = gpu.device.createCommandEncoder();
      fillUniform(gpu, encoder, { buffer, count, seed: seed * 7919 + n++, scale: isNorm ? 0.1 : 1 / Math.sqrt(shape[1]), offset: isNorm ? 1 : 0 });
      gpu.device.queue.submit([encoder.finish()]);
      return buffer;
    });
  }

  /**
   * makeDense gives an f32 tensor, or only `rows` of it for a part of a split table; makeLinear defaults to an
   * f32 weight made by makeDense.
   */
  private constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    options: ModelOptions,
    makeDense: (name: string, shape: number[], rows?: RowRange) => GPUBuffer,
    makeLinear?: (name: string, out: number, inF: number) => BaseWeight,
  ) {
    const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: V } = spec;
    const weight = (name: string, shape: number[], rows?: RowRange): GPUBuffer => {
      const buffer = makeDense(name, shape, rows);
      this.owned.push(buffer);
      this.names.set(buffer, rows ? `${name}[${rows.firstRow}:${rows.firstRow + rows.rows}]` : name);
      return buffer;
    };
    const maxPartBytes = options.maxTablePartBytes ?? Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const table = (name: string): VocabTable => {
      const ranges = tableRowRanges(V, d, maxPartBytes);
      if (ranges.length === 1) return { rows: V, dim: d, parts: [{ buffer: weight(name, [V, d]), firstRow: 0, rows: V }] };
      return { rows: V, dim: d, parts: ranges.map((range) => ({ ...range, buffer: weight(name, [V, d], range) })) };
    };
    const linear = (name: string, out: number, inF: number): BaseWeight => {
      if (!makeLinear) return { kind: 'f32', buffer: weight(name, [out, inF]), outFeatures: out, inFeatures: inF };
      const w = makeLinear(name, out, inF);
      this.owned.push(w.buffer);
      this.names.set(w.buffer, name);
      return w;
    };
    try {
      this.embedding = table('model.embed_tokens.weight');
      for (let l = 0; l < spec.numLayers; l++) {
        const p = `model.layers.${l}`;
        this.layers.push({
          attnNorm: weight(`${p}.input_layernorm.weight`, [d]),
          q: linear(`${p}.self_attn.q_proj.weight`, h * hd, d),
          k: linear(`${p}.self_attn.k_proj.weight`, kv * hd, d),
          v: linear(`${p}.self_attn.v_proj.weight`, kv * hd, d),
          o: linear(`${p}.self_attn.o_proj.weight`, d, h * hd),
          mlpNorm: weight(`${p}.post_attention_layernorm.weight`, [d]),
          gate: linear(`${p}.mlp.gate_proj.weight`, f, d),
          up: linear(`${p}.mlp.up_proj.weight`, f, d),
          down: linear(`${p}.mlp.down_proj.weight`, d, f),
        });
      }
      this.finalNorm = weight('model.norm.weight', [d]);
      this.lmHead = spec.tieWordEmbeddings ? this.embedding : table('lm_head.weight');
      this.invFreq = gpu.upload('rope.inv_freq', ropeInverseFrequencies(hd, spec.ropeTheta, spec.ropeScaling));
      this.owned.push(this.invFreq);
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  destroy(): void {
    this.gpu.destroy(...this.owned);
    this.owned.length = 0;
  }
}

/** The activations of one decoder layer that the backward pass reads. */
export interface LayerActivations {
  attnNormOut: GPUBuffer; // [N, D]
  attnRstd: GPUBuffer; // [N]
  q: GPUBuffer; // [N, H*hd], after RoPE
  k: GPUBuffer; // [N, Hkv*hd], after RoPE
  v: GPUBuffer; // [N, Hkv*hd]
  attnOut: GPUBuffer; // [N, H*hd]
  attnLse: GPUBuffer; // [N, H]
  mid: GPUBuffer; // [N, D]: residual after attention
  mlpNormOut: GPUBuffer; // [N, D]
  mlpRstd: GPUBuffer; // [N]
  gate: GPUBuffer; // [N, F]
  up: GPUBuffer; // [N, F]
  act: GPUBuffer; // [N, F]: silu(gate) * up
  /** LoRA h = x A^T [N, r] of each adapted projection. */
  loraH: Record<string, GPUBuffer>;
}

/** Gradient scratch shared by all layers. */
interface Gradients {
  resid: GPUBuffer; // [N, D]: gradient of the residual stream
  hidden: GPUBuffer; // [N, D]: gradient of the final-normed hidden state
  normOut: GPUBuffer; // [N, D]
  attnOut: GPUBuffer; // [N, H*hd]
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  delta: GPUBuffer; // [N, H]
  gate: GPUBuffer; // [N, F]
  up: GPUBuffer;
  act: GPUBuffer;
  loraH: GPUBuffer; // [N, r]
}

export interface ActivationOptions {
  /** Keep only each layer's input and recompute the rest of the layer during the backward pass. */
  recompute: boolean;
}

/** All buffers one forward/backward of a [batch, seqLen] input needs; reusable across steps of that shape. */
export class Activations {
  readonly rows: number;
  /** resid[l] is the input of layer l; resid[L] the input of the final norm. */
  readonly resid: GPUBuffer[] = [];
  readonly layers: LayerActivations[] = [];
  readonly hidden: GPUBuffer; // [N, D]: final-normed
  readonly finalRstd: GPUBuffer;
  readonly grads: Gradients | null;
  private readonly owned: GPUBuffer[] = [];

  constructor(
    private readonly gpu: Gpu,
    spec: ModelSpec,
    readonly batch: number,
    readonly seqLen: number,
    loraRank: number,
    loraTargets: readonly string[],
    readonly options: ActivationOptions,
    withGradients: boolean,
  ) {
    const N = (this.rows = batch * seqLen);
    const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd } = spec;
    const alloc = (name: string, elements: number) => {
      const b = gpu.buffer(name, elements * 4);
      this.owned.push(b);
      return b;
    };
    const layerActs = (p: string): LayerActivations => {
      const loraH: Record<string, GPUBuffer> = {};
      for (const t of loraTargets) loraH[t] = alloc(`${p}.${t}.lora_h`, N * loraRank);
      return {
        attnNormOut: alloc(`${p}.attn_norm_out`, N * d), attnRstd: alloc(`${p}.attn_rstd`, N),
        q: alloc(`${p}.q`, N * h * hd), k: alloc(`${p}.k`, N * kv * hd), v: alloc(`${p}.v`, N * kv * hd),
        attnOut: alloc(`${p}.attn_out`, N * h * hd), attnLse: alloc(`${p}.attn_lse`, N * h),
        mid: alloc(`${p}.mid`, N * d), mlpNormOut: alloc(`${p}.mlp_norm_out`, N * d), mlpRstd: alloc(`${p}.mlp_rstd`, N),
        gate: alloc(`${p}.gate`, N * f), up: alloc(`${p}.up`, N * f), act: alloc(`${p}.act`, N * f), loraH,
      };
    };
    try {
      for (let l = 0; l <= spec.numLayers; l++) this.resid.push(alloc(`resid.${l}`, N * d));
      if (options.recompute) {
        const shared = layerActs('layer');
        for (let l = 0; l < spec.numLayers; l++) this.layers.push(shared);
      } else {
        for (let l = 0; l < spec.numLayers; l++) this.layers.push(layerActs(`layer.${l}`));
      }
      this.hidden = alloc('hidden', N * d);
      this.finalRstd = alloc('final_rstd', N);
      this.grads = withGradients
        ? {
            resid: alloc('d.resid', N * d), hidden: alloc('d.hidden', N * d), normOut: alloc('d.norm_out', N * d),
            attnOut: alloc('d.attn_out', N * h * hd), q: alloc('d.q', N * h * hd), k: alloc('d.k', N * kv * hd),
            v: alloc('d.v', N * kv * hd), delta: alloc('d.attn_delta', N * h), gate: alloc('d.gate', N * f),
            up: alloc('d.up', N * f), act: alloc('d.act', N * f), loraH: alloc('d.lora_h', N * Math.max(1, loraRank)),
          }
        : null;
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  destroy(): void {
    this.gpu.destroy(...this.owned);
    this.owned.length = 0;
  }
}

/** Per-sequence inputs on the GPU. */
export interface InputBuffers {
  ids: GPUBuffer; // u32 [N]
  mask: GPUBuffer; // u32 [N]: 1 real token, 0 padding
  /** Rows grouped by token id, for the embedding gradient (full-parameter training only). */
  embeddingGroups?: EmbeddingGradGroups;
}

/** A gradient buffer for every weight of the model, the same shape as the weight (full-parameter training). */
export interface ModelGradients {
  embedding: GPUBuffer;
  layers: Record<keyof LayerWeights, GPUBuffer>[];
  finalNorm: GPUBuffer;
  /** The embedding's buffer when the head is tied. */
  lmHead: GPUBuffer;
}

function attentionShape(spec: ModelSpec, acts: Activations) {
  return {
    batch: acts.batch, seqLen: acts.seqLen, heads: spec.numHeads, kvHeads: spec.numKvHeads,
    headDim: spec.headDim, window: spec.slidingWindow ?? 0,
  };
}

/** The seven linear layers of decoder layer l, each with its input and saved LoRA activation. */
function linearCalls(model: Model, lora: LoraAdapter | null, acts: Activations, l: number): Record<LoraTarget, LinearCall> {
  const W = model.layers[l];
  const A = acts.layers[l];
  const call = (target: LoraTarget, x: GPUBuffer): LinearCall => ({
    w: W[LINEAR_OF[target]], lora: lora?.slot(l, target) ?? null, x, h: A.loraH[target] ?? null,
    rows: acts.rows, label: `layer${l}.${target}`,
  });
  return {
    q_proj: call('q_proj', A.attnNormOut), k_proj: call('k_proj', A.attnNormOut), v_proj: call('v_proj', A.attnNormOut),
    o_proj: call('o_proj', A.attnOut), gate_proj: call('gate_proj', A.mlpNormOut), up_proj: call('up_proj', A.mlpNormOut),
    down_proj: call('down_proj', A.act),
  };
}

const LINEAR_OF = {
  q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down',
} as const satisfies Record<LoraTarget, keyof LayerWeights>;

/** Decoder layer l, forward: resid[l] -> resid[l+1], saving what the backward reads. */
export function layerForward(
  encoder: GPUCommandEncoder, model: Model, lora: LoraAdapter | null, acts: Activations, inputs: InputBuffers, l: number,
): void {
  const { gpu, spec } = model;
  const W = model.layers[l];
  const A = acts.layers[l];
  const N = acts.rows;
  const { hiddenSize: d, numHeads: h, numKvHeads: kv, headDim: hd } = spec;
  const x = acts.resid[l];
  const linear = linearCalls(model, lora, acts, l);

  rmsnormForward(gpu, encoder, { x, weight: W.attnNorm, y: A.attnNormOut, rstd: A.attnRstd, rows: N, dim: d, eps: spec.rmsNormEps, label: 'attn_norm' });
  loraLinearForward(gpu, encoder, linear.q_proj, A.q, false);
  loraLinearForward(gpu, encoder, linear.k_proj, A.k, false);
  loraLinearForward(gpu, encoder, linear.v_proj, A.v, false);
  ropeForward(gpu, encoder, { x: A.q, invFreq: model.invFreq, rows: N, seqLen: acts.seqLen, heads: h, headDim: hd, label: 'rope' });
  ropeForward(gpu, encoder, { x: A.k, invFreq: model.invFreq, rows: N, seqLen: acts.seqLen, heads: kv, headDim: hd, label: 'rope' });
  attentionForward(gpu, encoder, {
    ...attentionShape(spec, acts), q: A.q, k: A.k, v: A.v, mask: inputs.mask, out: A.attnOut, lse: A.attnLse, label: 'attention',
  });
  encoder.copyBufferToBuffer(x, 0, A.mid, 0, N * d * 4);
  loraLinearForward(gpu, encoder, linear.o_proj, A.mid, true);

  rmsnormForward(gpu, encoder, { x: A.mid, weight: W.mlpNorm, y: A.mlpNormOut, rstd: A.mlpRstd, rows: N, dim: d, eps: spec.rmsNormEps, label: 'mlp_norm' });
  loraLinearForward(gpu, encoder, linear.gate_proj, A.gate, false);
  loraLinearForward(gpu, encoder, linear.up_proj, A.up, false);
  swigluForward(gpu, encoder, { gate: A.gate, up: A.up, out: A.act, count: N * spec.intermediateSize, label: 'swiglu' });
  encoder.copyBufferToBuffer(A.mid, 0, acts.resid[l + 1], 0, N * d * 4);
  loraLinearForward(gpu, encoder, linear.down_proj, acts.resid[l + 1], true);
}

/** Embedding, every layer and the final norm: acts.hidden holds the normed last hidden state. */
export function forward(encoder: GPUCommandEncoder, model: Model, lora: LoraAdapter | null, acts: Activations, inputs: InputBuffers): void {
  const { gpu, spec } = model;
  const N = acts.rows;
  embeddingForward(gpu, encoder, { ids: inputs.ids, table: model.embedding, out: acts.resid[0], rows: N, label: 'embedding' });
  for (let l = 0; l < spec.numLayers; l++) layerForward(encoder, model, lora, acts, inputs, l);
  rmsnormForward(gpu, encoder, {
    x: acts.resid[spec.numLayers], weight: model.finalNorm, y: acts.hidden, rstd: acts.finalRstd,
    rows: N, dim: spec.hiddenSize, eps: spec.rmsNormEps, label: 'final_norm',
  });
}

/**
 * From the gradient of the final-normed hidden state (acts.grads.hidden) down to layer 0, accumulating LoRA
 * gradients into lora.grads and, in full-parameter training, every weight's gradient into weightGrads.
 */
export function backward(
  encoder: GPUCommandEncoder, model: Model, lora: LoraAdapter | null, acts: Activations, inputs: InputBuffers,
  weightGrads: ModelGradients | null = null,
): void {
  const { gpu, spec } = model;
  const G = acts.grads;
  if (!G) throw new Error('these activations were made without gradient buffers');
  const N = acts.rows;
  const { hiddenSize: d, numHeads: h, numKvHeads: kv, headDim: hd } = spec;
  const normWeightGrad = (dy: GPUBuffer, x: GPUBuffer, rstd: GPUBuffer, dweight: GPUBuffer | undefined, label: string) => {
    if (dweight) rmsnormWeightGrad(gpu, encoder, { dy, x, rstd, dweight, rows: N, dim: d, accumulate: true, label });
  };
  normWeightGrad(G.hidden, acts.resid[spec.numLayers], acts.finalRstd, weightGrads?.finalNorm, 'final_norm.dweight');
  rmsnormBackward(gpu, encoder, {
    dy: G.hidden, x: acts.resid[spec.numLayers], weight: model.finalNorm, rstd: acts.finalRstd, dx: G.resid,
    rows: N, dim: d, label: 'final_norm.backward',
  });
  for (let l = spec.numLayers - 1; l >= 0; l--) {
    if (acts.options.recompute) layerForward(encoder, model, lora, acts, inputs, l);
    const W = model.layers[l];
    const A = acts.layers[l];
    const WG = weightGrads?.layers[l];
    const linear = linearCalls(model, lora, acts, l);
    const grads = (target: LoraTarget, dy: GPUBuffer, dx: GPUBuffer, accumulateDx: boolean): LinearGradients => ({
      dy, dx, accumulateDx, dh: G.loraH, dW: WG?.[LINEAR_OF[target]] ?? null,
    });

    // MLP: resid[l+1] = mid + down(silu(gate(n)) * up(n)), n = mlp_norm(mid)
    loraLinearBackward(gpu, encoder, linear.down_proj, grads('down_proj', G.resid, G.act, false));
    swigluBackward(gpu, encoder, { dOut: G.act, gate: A.gate, up: A.up, dGate: G.gate, dUp: G.up, count: N * spec.intermediateSize, label: 'swiglu.backward' });
    loraLinearBackward(gpu, encoder, linear.gate_proj, grads('gate_proj', G.gate, G.normOut, false));
    loraLinearBackward(gpu, encoder, linear.up_proj, grads('up_proj', G.up, G.normOut, true));
    normWeightGrad(G.normOut, A.mid, A.mlpRstd, WG?.mlpNorm, 'mlp_norm.dweight');
    rmsnormBackward(gpu, encoder, {
      dy: G.normOut, x: A.mid, weight: W.mlpNorm, rstd: A.mlpRstd, dx: G.resid, rows: N, dim: d, accumulate: true, label: 'mlp_norm.backward',
    });

    // Attention: mid = resid[l] + o(attention(rope(q(n)), rope(k(n)), v(n))), n = attn_norm(resid[l])
    loraLinearBackward(gpu, encoder, linear.o_proj, grads('o_proj', G.resid, G.attnOut, false));
    attentionBackward(gpu, encoder, {
      ...attentionShape(spec, acts), q: A.q, k: A.k, v: A.v, mask: inputs.mask, out: A.attnOut, lse: A.attnLse,
      dOut: G.attnOut, dq: G.q, dk: G.k, dv: G.v, delta: G.delta, label: 'attention.backward',
    });
    ropeBackward(gpu, encoder, { x: G.q, invFreq: model.invFreq, rows: N, seqLen: acts.seqLen, heads: h, headDim: hd, label: 'rope.backward' });
    ropeBackward(gpu, encoder, { x: G.k, invFreq: model.invFreq, rows: N, seqLen: acts.seqLen, heads: kv, headDim: hd, label: 'rope.backward' });
    loraLinearBackward(gpu, encoder, linear.q_proj, grads('q_proj', G.q, G.normOut, false));
    loraLinearBackward(gpu, encoder, linear.k_proj, grads('k_proj', G.k, G.normOut, true));
    loraLinearBackward(gpu, encoder, linear.v_proj, grads('v_proj', G.v, G.normOut, true));
    normWeightGrad(G.normOut, acts.resid[l], A.attnRstd, WG?.attnNorm, 'attn_norm.dweight');
    rmsnormBackward(gpu, encoder, {
      dy: G.normOut, x: acts.resid[l], weight: W.attnNorm, rstd: A.attnRstd, dx: G.resid, rows: N, dim: d, accumulate: true, label: 'attn_norm.backward',
    });
  }
  if (weightGrads) {
    if (!inputs.embeddingGroups) throw new Error('full-parameter training needs the token groups of the batch');
    embeddingBackward(gpu, encoder, { dOut: G.resid, groups: inputs.embeddingGroups, dTable: weightGrads.embedding, dim: d, label: 'embedding.backward' });
  }
}
