// The buffers of one forward/backward pass, each activation named: what a decoder layer saves for the
// backward pass, the gradient scratch, and the inputs.
import type { Gpu } from '../gpu/gpu';
import type { EmbeddingGradGroups } from './ops/embedding';
import { packedF16Bytes } from './ops/half';
import type { ModelSpec } from './spec';

/** The activations of one decoder layer that the backward pass reads. */
export interface LayerActivations {
  attnNormOut: GPUBuffer; // [N, D]; with recompute, the same buffer as mlpNormOut
  attnRstd: GPUBuffer; // [N]
  q: GPUBuffer; // [N, H*hd], after RoPE
  k: GPUBuffer; // [N, Hkv*hd], after RoPE
  v: GPUBuffer; // [N, Hkv*hd]
  attnOut: GPUBuffer; // [N, H*hd]
  attnLse: GPUBuffer; // [N, H]
  mid: GPUBuffer; // [N, D]: residual after attention
  mlpNormOut: GPUBuffer; // [N, D]
  mlpRstd: GPUBuffer; // [N]
  // The MLP's backward writes its gradients over these three once it has read them for the last time:
  // d act over act (down_proj's dx), d gate over gate and d up over up (swiglu's backward, in place).
  gate: GPUBuffer; // [N, F]
  up: GPUBuffer; // [N, F]
  act: GPUBuffer; // [N, F]: silu(gate) * up
  /** LoRA h = x A^T [N, r] of each adapted projection. */
  loraH: Record<string, GPUBuffer>;
}

/** Gradient scratch shared by all layers (the MLP's gradients live in the layer's own buffers). */
interface Gradients {
  resid: GPUBuffer; // [N, D]: gradient of the residual stream
  /** [N, D]: gradient of the final-normed hidden state; the same buffer as normOut, used before any layer's. */
  hidden: GPUBuffer;
  normOut: GPUBuffer; // [N, D]
  attnOut: GPUBuffer; // [N, H*hd]
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  delta: GPUBuffer; // [N, H]
  loraH: GPUBuffer; // [N, r]
}

/** How the saved layer inputs are stored: f32, or f16 pairs packed in u32 words (half the bytes). */
export type ActivationDtype = 'f32' | 'f16';

export interface ActivationOptions {
  /** Keep only each layer's input and recompute the rest of the layer during the backward pass. */
  recompute: boolean;
  /**
   * 'f16' keeps each layer's input as packed f16 (rounded once, so the forward, the recomputation and the
   * backward all see the same values) and runs the layers on one f32 residual buffer; arithmetic stays f32
   * except the base products, which may take f16 operands (model.ts's linear calls, matmul_quant_half.ts).
   * Default 'f32', which the reference cases check.
   */
  dtype?: ActivationDtype;
}

/** All buffers one forward/backward of a [batch, seqLen] input needs; reusable across steps of that shape. */
export class Activations {
  readonly rows: number;
  readonly dtype: ActivationDtype;
  /**
   * f32: resid[l] is the input of layer l, resid[L] the input of the final norm. f16: resid[0] is the one f32
   * residual buffer every layer reads and updates in place, and saved[l] holds layer l's input.
   */
  readonly resid: GPUBuffer[] = [];
  /** f16 only: the input of layer l as packed f16 pairs. */
  readonly saved: GPUBuffer[] = [];
  readonly layers: LayerActivations[] = [];
  /** [N, D]: final-normed; with recompute, the layer scratch's mlpNormOut (the next recomputation overwrites it). */
  readonly hidden: GPUBuffer;
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
    this.dtype = options.dtype ?? 'f32';
    const allocBytes = (name: string, bytes: number) => {
      const b = gpu.buffer(name, bytes);
      this.owned.push(b);
      return b;
    };
    const alloc = (name: string, elements: number) => allocBytes(name, elements * 4);
    // shareNormOut: attn_norm_out and mlp_norm_out in one buffer (the recomputing backward makes attn_norm_out
    // again before the q, k and v projections' backward).
    const layerActs = (p: string, shareNormOut: boolean): LayerActivations => {
      const loraH: Record<string, GPUBuffer> = {};
      for (const t of loraTargets) loraH[t] = alloc(`${p}.${t}.lora_h`, N * loraRank);
      const attnNormOut = alloc(shareNormOut ? `${p}.norm_out` : `${p}.attn_norm_out`, N * d);
      return {
        attnNormOut, attnRstd: alloc(`${p}.attn_rstd`, N),
        q: alloc(`${p}.q`, N * h * hd), k: alloc(`${p}.k`, N * kv * hd), v: alloc(`${p}.v`, N * kv * hd),
        attnOut: alloc(`${p}.attn_out`, N * h * hd), attnLse: alloc(`${p}.attn_lse`, N * h),
        mid: alloc(`${p}.mid`, N * d), mlpNormOut: shareNormOut ? attnNormOut : alloc(`${p}.mlp_norm_out`, N * d), mlpRstd: alloc(`${p}.mlp_rstd`, N),
        gate: alloc(`${p}.gate`, N * f), up: alloc(`${p}.up`, N * f), act: alloc(`${p}.act`, N * f), loraH,
      };
    };
    try {
      if (this.dtype === 'f16') {
        this.resid.push(alloc('resid', N * d));
        for (let l = 0; l < spec.numLayers; l++) this.saved.push(allocBytes(`resid.${l}.f16`, packedF16Bytes(N * d)));
      } else {
        for (let l = 0; l <= spec.numLayers; l++) this.resid.push(alloc(`resid.${l}`, N * d));
      }
      if (options.recompute) {
        const shared = layerActs('layer', true);
        for (let l = 0; l < spec.numLayers; l++) this.layers.push(shared);
      } else {
        for (let l = 0; l < spec.numLayers; l++) this.layers.push(layerActs(`layer.${l}`, false));
      }
      // Recomputed layers keep their activations in one scratch that is idle between the forward and the
      // backward, when the loss reads the final-normed state: that state lives in the scratch's mlp_norm_out.
      this.hidden = options.recompute ? this.layers[0].mlpNormOut : alloc('hidden', N * d);
      this.finalRstd = alloc('final_rstd', N);
      if (withGradients) {
        const normOut = alloc('d.norm_out', N * d);
        this.grads = {
          resid: alloc('d.resid', N * d), hidden: normOut, normOut,
          attnOut: alloc('d.attn_out', N * h * hd), q: alloc('d.q', N * h * hd), k: alloc('d.k', N * kv * hd),
          v: alloc('d.v', N * kv * hd), delta: alloc('d.attn_delta', N * h), loraH: alloc('d.lora_h', N * Math.max(1, loraRank)),
        };
      } else {
        this.grads = null;
      }
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  /** The f32 buffer holding layer l's input while the layer runs (l = L: the final norm's input). */
  layerInput(l: number): GPUBuffer {
    return this.dtype === 'f16' ? this.resid[0] : this.resid[l];
  }

  /** Where layer l writes its output: the next layer's input (f16: the same buffer, updated in place). */
  layerOutput(l: number): GPUBuffer {
    return this.layerInput(l + 1);
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
