// The buffers of one forward/backward pass, each activation named: what a decoder layer saves for the
// backward pass, the gradient scratch, and the inputs.
import type { Gpu } from '../gpu/gpu';
import type { EmbeddingGradGroups } from './ops/embedding';
import type { ModelSpec } from './spec';

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
