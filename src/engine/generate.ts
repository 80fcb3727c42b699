// Generation with a KV cache: a prefill of the prompts (the training forward, saving each layer's k and v in
// the cache), then one token per sequence per step, written out layer by layer like model.ts. Prompts of
// different lengths decode together: each sequence has its own position. The LM head runs on the last row of
// each sequence only; no T x T and no T x vocab buffer.
import type { Gpu } from '../gpu/gpu';
import { mulberry32 } from '../util/random';
import { Activations } from './activations';
import { type LinearCall, loraLinearForward } from './linear';
import type { LoraAdapter } from './lora';
import { layerForward } from './model';
import { lmHeadLogits } from './ops/cross_entropy';
import { appendKv, attendCache, decodeScoresBytes } from './ops/decode_attention';
import { embeddingForward } from './ops/embedding';
import { rmsnormForward } from './ops/rmsnorm';
import { ropeForwardAt } from './ops/rope';
import { swigluForward } from './ops/swiglu';
import type { LoraTarget } from './spec';
import { LINEAR_OF, type Model } from './weights';

export interface SamplingOptions {
  /** 0 (the default) decodes greedily: the first token of highest logit. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or absent: all). */
  topP?: number;
  /** Seed of the sampler's random stream. */
  seed?: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** A sequence ends after producing one of these (its EOS tokens); it is kept in the output. */
  stopTokens?: readonly number[];
  /** A sequence ends once decode(its new tokens) contains one of these; the text is cut before it by the caller. */
  stopStrings?: readonly string[];
  decode?: (ids: number[]) => string;
  /** After every step: how many steps are done. */
  onStep?: (step: number, of: number) => void;
}

export interface GenerateResult {
  /** The new tokens of each prompt, in order. */
  tokens: number[][];
  prefillMs: number;
  decodeMs: number;
  /** Decode steps run (the prefill's token excluded). */
  steps: number;
}

/** Buffers of one decode step for `batch` sequences, and the KV cache. */
class DecodeState {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  readonly ids: GPUBuffer;
  readonly positions: GPUBuffer;
  readonly x: GPUBuffer; // [B, D]: the residual stream
  readonly mid: GPUBuffer; // [B, D]: residual after attention
  readonly normOut: GPUBuffer; // [B, D]
  readonly rstd: GPUBuffer; // [B]
  readonly q: GPUBuffer; // [B, H*hd]
  readonly newK: GPUBuffer; // [B, Hkv*hd]
  readonly newV: GPUBuffer;
  readonly attnOut: GPUBuffer; // [B, H*hd]
  readonly gate: GPUBuffer; // [B, F]
  readonly up: GPUBuffer;
  readonly act: GPUBuffer;
  readonly loraH: GPUBuffer; // [B, r]
  readonly scores: GPUBuffer; // [B, H, capacity]
  readonly logits: GPUBuffer; // [B, V]
  private readonly owned: GPUBuffer[] = [];

  constructor(private readonly gpu: Gpu, model: Model, rank: number, readonly batch: number, readonly capacity: number) {
    const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: V, numLayers } = model.spec;
    const B = batch;
    const alloc = (name: string, bytes: number) => {
      const buffer = gpu.buffer(name, bytes);
      this.owned.push(buffer);
      return buffer;
    };
    try {
      for (let l = 0; l < numLayers; l++) {
        this.k.push(alloc(`kv_cache.${l}.k`, B * capacity * kv * hd * 4));
        this.v.push(alloc(`kv_cache.${l}.v`, B * capacity * kv * hd * 4));
      }
      this.ids = alloc('decode.ids', B * 4);
      this.positions = alloc('decode.positions', B * 4);
      this.x = alloc('decode.x', B * d * 4);
      this.mid = alloc('decode.mid', B * d * 4);
      this.normOut = alloc('decode.norm_out', B * d * 4);
      this.rstd = alloc('decode.rstd', B * 4);
      this.q = alloc('decode.q', B * h * hd * 4);
      this.newK = alloc('decode.k', B * kv * hd * 4);
      this.newV = alloc('decode.v', B * kv * hd * 4);
      this.attnOut = alloc('decode.attn_out', B * h * hd * 4);
      this.gate = alloc('decode.gate', B * f * 4);
      this.up = alloc('decode.up', B * f * 4);
      this.act = alloc('decode.act', B * f * 4);
      this.loraH = alloc('decode.lora_h', B * Math.max(1, rank) * 4);
      this.scores = alloc('decode.scores', decodeScoresBytes({ batch: B, heads: h, capacity }));
      this.logits = alloc('decode.logits', B * V * 4);
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

/** Generates from a model with an optional LoRA adapter (applied as a branch beside the frozen weights). */
export class Generator {
  constructor(
    readonly model: Model,
    readonly lora: LoraAdapter | null,
  ) {}

  async generate(prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<GenerateResult> {
    const { gpu, spec } = this.model;
    const B = prompts.length;
    if (B === 0) return { tokens: [], prefillMs: 0, decodeMs: 0, steps: 0 };
    const lengths = prompts.map((p) => p.length);
    if (lengths.some((n) => n === 0)) throw new Error('generate: every prompt needs at least one token');
    for (const p of prompts) for (const id of p) if (!(Number.isInteger(id) && id >= 0 && id < spec.vocabSize)) throw new Error(`generate: token ${id} is outside the vocabulary of ${spec.vocabSize}`);
    if (!(options.maxNewTokens >= 1)) return { tokens: prompts.map(() => []), prefillMs: 0, decodeMs: 0, steps: 0 };
    const promptLength = Math.max(...lengths);
    const capacity = promptLength + options.maxNewTokens - 1;
    const state = new DecodeState(gpu, this.model, this.lora?.config.rank ?? 0, B, capacity);
    const pick = sampler(options);
    const tokens: number[][] = prompts.map(() => []);
    const done = new Array<boolean>(B).fill(false);
    const finish = (next: number[]) => {
      next.forEach((id, b) => {
        if (done[b]) return;
        tokens[b].push(id);
        if (options.stopTokens?.includes(id)) done[b] = true;
        else if (options.stopStrings?.length && options.decode) {
          const text = options.decode(tokens[b]);
          if (options.stopStrings.some((s) => text.includes(s))) done[b] = true;
        }
        if (tokens[b].length >= options.maxNewTokens) done[b] = true;
      });
    };
    try {
      const t0 = performance.now();
      finish(pick(await this.prefill(state, prompts, promptLength), B));
      const prefillMs = performance.now() - t0;
      options.onStep?.(1, options.maxNewTokens);
      const t1 = performance.now();
      let steps = 0;
      while (!done.every(Boolean)) {
        const ids = tokens.map((t) => t[t.length - 1] ?? 0);
        const positions = tokens.map((t, b) => lengths[b] + t.length - 1);
        finish(pick(await this.decodeStep(state, ids, positions), B));
        steps += 1;
        options.onStep?.(steps + 1, options.maxNewTokens);
      }
      return { tokens, prefillMs, decodeMs: performance.now() - t1, steps };
    } finally {
      state.destroy();
    }
  }

  /** The training forward over the right-padded prompts, each layer's k and v copied into the cache. */
  private async prefill(state: DecodeState, prompts: readonly (readonly number[])[], T: number): Promise<Float32Array> {
    const { gpu, spec } = this.model;
    const B = prompts.length;
    const { hiddenSize: d, numKvHeads: kv, headDim: hd, vocabSize: V } = spec;
    const rank = this.lora?.config.rank ?? 0;
    const acts = new Activations(gpu, spec, B, T, rank, this.lora?.config.targets ?? [], { recompute: true }, false);
    const ids = new Uint32Array(B * T);
    const mask = new Uint32Array(B * T);
    prompts.forEach((p, b) => {
      ids.set(p, b * T);
      mask.fill(1, b * T, b * T + p.length);
    });
    const inputs = { ids: gpu.upload('prefill.ids', ids), mask: gpu.upload('prefill.mask', mask) };
    const kvRowBytes = kv * hd * 4;
    try {
      await gpu.submit((encoder) => {
        embeddingForward(gpu, encoder, { ids: inputs.ids, table: this.model.embedding, out: acts.layerInput(0), rows: B * T, label: 'prefill.embedding' });
        for (let l = 0; l < spec.numLayers; l++) {
          layerForward(encoder, this.model, this.lora, acts, inputs, l);
          for (let b = 0; b < B; b++) {
            const from = b * T * kvRowBytes;
            const to = b * state.capacity * kvRowBytes;
            encoder.copyBufferToBuffer(acts.layers[l].k, from, state.k[l], to, T * kvRowBytes);
            encoder.copyBufferToBuffer(acts.layers[l].v, from, state.v[l], to, T * kvRowBytes);
          }
        }
        // The last real row of each sequence, then the final norm and the LM head on those rows alone.
        prompts.forEach((p, b) => encoder.copyBufferToBuffer(acts.layerInput(spec.numLayers), (b * T + p.length - 1) * d * 4, state.x, b * d * 4, d * 4));
        this.head(encoder, state, B);
      });
      return await gpu.readF32(state.logits, B * V);
    } finally {
      acts.destroy();
      gpu.destroy(inputs.ids, inputs.mask);
    }
  }

  /** One new token per sequence: ids[b] at position positions[b]. */
  private async decodeStep(state: DecodeState, ids: number[], positions: number[]): Promise<Float32Array> {
    const { gpu, spec } = this.model;
    const B = ids.length;
    const { hiddenSize: d, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: V } = spec;
    gpu.write(state.ids, Uint32Array.from(ids));
    gpu.write(state.positions, Uint32Array.from(positions));
    const shape = { batch: B, capacity: state.capacity, heads: h, kvHeads: kv, headDim: hd, window: spec.slidingWindow ?? 0 };
    await gpu.submit((encoder) => {
      embeddingForward(gpu, encoder, { ids: state.ids, table: this.model.embedding, out: state.x, rows: B, label: 'decode.embedding' });
      for (let l = 0; l < spec.numLayers; l++) {
        const W = this.model.layers[l];
        const linear = (target: LoraTarget, x: GPUBuffer): LinearCall => ({
          w: W[LINEAR_OF[target]], lora: this.lora?.slot(l, target) ?? null, x, h: state.loraH, rows: B, precision: 'f32', label: `decode${l}.${target}`,
        });
        rmsnormForward(gpu, encoder, { x: state.x, weight: W.attnNorm, y: state.normOut, rstd: state.rstd, rows: B, dim: d, eps: spec.rmsNormEps, label: 'decode.attn_norm' });
        loraLinearForward(gpu, encoder, linear('q_proj', state.normOut), state.q, false);
        loraLinearForward(gpu, encoder, linear('k_proj', state.normOut), state.newK, false);
        loraLinearForward(gpu, encoder, linear('v_proj', state.normOut), state.newV, false);
        ropeForwardAt(gpu, encoder, { x: state.q, invFreq: this.model.invFreq, positions: state.positions, rows: B, heads: h, headDim: hd, label: 'decode.rope' });
        ropeForwardAt(gpu, encoder, { x: state.newK, invFreq: this.model.invFreq, positions: state.positions, rows: B, heads: kv, headDim: hd, label: 'decode.rope' });
        appendKv(gpu, encoder, { ...shape, k: state.newK, v: state.newV, positions: state.positions, kCache: state.k[l], vCache: state.v[l] });
        attendCache(gpu, encoder, { ...shape, q: state.q, kCache: state.k[l], vCache: state.v[l], positions: state.positions, scores: state.scores, out: state.attnOut });
        encoder.copyBufferToBuffer(state.x, 0, state.mid, 0, B * d * 4);
        loraLinearForward(gpu, encoder, linear('o_proj', state.attnOut), state.mid, true);

        rmsnormForward(gpu, encoder, { x: state.mid, weight: W.mlpNorm, y: state.normOut, rstd: state.rstd, rows: B, dim: d, eps: spec.rmsNormEps, label: 'decode.mlp_norm' });
        loraLinearForward(gpu, encoder, linear('gate_proj', state.normOut), state.gate, false);
        loraLinearForward(gpu, encoder, linear('up_proj', state.normOut), state.up, false);
        swigluForward(gpu, encoder, { gate: state.gate, up: state.up, out: state.act, count: B * spec.intermediateSize, label: 'decode.swiglu' });
        encoder.copyBufferToBuffer(state.mid, 0, state.x, 0, B * d * 4);
        loraLinearForward(gpu, encoder, linear('down_proj', state.act), state.x, true);
      }
      this.head(encoder, state, B);
    });
    return gpu.readF32(state.logits, B * V);
  }

  /** logits [B, V] of the last hidden rows in state.x: final norm, then the LM head. */
  private head(encoder: GPUCommandEncoder, state: DecodeState, B: number): void {
    const { gpu, spec } = this.model;
    rmsnormForward(gpu, encoder, { x: state.x, weight: this.model.finalNorm, y: state.normOut, rstd: state.rstd, rows: B, dim: spec.hiddenSize, eps: spec.rmsNormEps, label: 'decode.final_norm' });
    lmHeadLogits(gpu, encoder, { hidden: state.normOut, weight: this.model.lmHead, rows: B, dim: spec.hiddenSize, vocab: spec.vocabSize, logits: state.logits, label: 'decode.lm_head' });
  }
}

/** The first index of the largest value (as torch.argmax). */
export function argmax(values: ArrayLike<number>, start = 0, end = values.length): number {
  let best = start;
  for (let i = start + 1; i < end; i++) if (values[i] > values[best]) best = i;
  return best - start;
}

/** Picks each sequence's next token from logits [B, V]: greedy, or temperature / top-k / top-p sampling. */
export function sampler(options: SamplingOptions): (logits: Float32Array, batch: number) => number[] {
  const temperature = options.temperature ?? 0;
  if (!(temperature >= 0)) throw new Error(`temperature must be 0 or more, got ${temperature}`);
  const random = mulberry32(options.seed ?? 0);
  return (logits, batch) => {
    const V = logits.length / batch;
    return Array.from({ length: batch }, (_, b) => {
      if (temperature === 0) return argmax(logits, b * V, (b + 1) * V);
      return sampleRow(logits.subarray(b * V, (b + 1) * V), temperature, options.topK ?? 0, options.topP ?? 1, random());
    });
  };
}

/** One draw `u` in [0, 1) from softmax(logits / temperature), cut to the top k and then to the top-p mass. */
export function sampleRow(logits: Float32Array, temperature: number, topK: number, topP: number, u: number): number {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const kept = topK > 0 ? order.slice(0, topK) : order;
  const max = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((a, w) => a + w, 0);
  let count = kept.length;
  if (topP < 1) {
    let mass = 0;
    for (count = 0; count < kept.length && mass < topP * total; count++) mass += weights[count];
  }
  const keptTotal = weights.slice(0, count).reduce((a, w) => a + w, 0);
  let target = u * keptTotal;
  for (let i = 0; i < count; i++) {
    target -= weights[i];
    if (target < 0) return kept[i];
  }
  return kept[count - 1];
}
