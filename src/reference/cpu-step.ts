// One LoRA training step of a Llama/Mistral model in float64 on the CPU: forward, loss, backward by hand to
// the LoRA tensors, one AdamW step. An oracle for making reference cases, independent of the GPU engine.
// Semantics: src/testdata/reference/README.md. Written for clarity, not speed (T x T attention).
import { type LoraConfig, loraScaling, peftKey } from '../engine/peft';
import type { ReferenceCase } from './case';
import { ropeInverseFrequencies } from '../engine/rope';
import { LORA_TARGETS, type LoraTarget, type ModelSpec, linearShape } from '../engine/spec';

export interface CpuStepInput {
  spec: ModelSpec;
  /** Base weights by HF name, e.g. model.layers.0.self_attn.q_proj.weight ([out, in]). */
  weights: (name: string) => Float32Array;
  /** LoRA tensors by PEFT key (A [r, in], B [out, r]). */
  lora: { config: LoraConfig; tensors: (key: string) => Float32Array };
  batch: { inputIds: number[][]; attentionMask: number[][]; labels: number[][]; answerSpans: [number, number][][] };
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
}

export interface CpuStepOutput {
  /** [B, T, V] */
  logits: Float64Array;
  /** [B, T]: cross-entropy of the label at t given tokens < t; 0 where there is no label. */
  tokenLoss: Float64Array;
  lossAllAnswers: number;
  lossLastAnswer: number;
  /** Gradient of lossAllAnswers for every LoRA tensor, by PEFT key. */
  grads: Map<string, Float64Array>;
  /** Every LoRA tensor after one AdamW step (PyTorch semantics, step 1), by PEFT key. */
  after: Map<string, Float64Array>;
}

// ---- dense helpers; all matrices are row-major ----

function toFloat64(values: Float32Array, expectedLength: number, name: string): Float64Array {
  if (values.length !== expectedLength) throw new Error(`${name}: ${values.length} values, expected ${expectedLength}`);
  return Float64Array.from(values);
}

/** y[n, m] = x[n, k] w[m, k]^T */
function matmulTransposed(x: Float64Array, w: Float64Array, n: number, k: number, m: number): Float64Array {
  const y = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += x[i * k + c] * w[j * k + c];
      y[i * m + j] = sum;
    }
  }
  return y;
}

/** y[n, k] = x[n, m] w[m, k] */
function matmul(x: Float64Array, w: Float64Array, n: number, m: number, k: number): Float64Array {
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const xij = x[i * m + j];
      if (xij === 0) continue;
      for (let c = 0; c < k; c++) y[i * k + c] += xij * w[j * k + c];
    }
  }
  return y;
}

/** Adds dy[n, m]^T x[n, k] (an [m, k] matrix) into out. */
function addTransposedProduct(out: Float64Array, dy: Float64Array, x: Float64Array, n: number, m: number, k: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const d = dy[i * m + j];
      if (d === 0) continue;
      for (let c = 0; c < k; c++) out[j * k + c] += d * x[i * k + c];
    }
  }
}

// ---- linear layers with an optional LoRA branch: y = x W^T + s (x A^T) B^T ----

interface LoraBranch {
  keyA: string;
  keyB: string;
  /** [r, in] */
  a: Float64Array;
  /** [out, r] */
  b: Float64Array;
}

interface Linear {
  outFeatures: number;
  inFeatures: number;
  /** [out, in] */
  weight: Float64Array;
  lora: LoraBranch | null;
}

interface LinearCache {
  x: Float64Array;
  /** x A^T [n, r], when there is a LoRA branch. */
  xa: Float64Array | null;
}

interface StepContext {
  rank: number;
  scaling: number;
  grads: Map<string, Float64Array>;
}

function linearForward(ctx: StepContext, layer: Linear, x: Float64Array, n: number): { y: Float64Array; cache: LinearCache } {
  const { inFeatures: fin, outFeatures: fout } = layer;
  const y = matmulTransposed(x, layer.weight, n, fin, fout);
  if (!layer.lora) return { y, cache: { x, xa: null } };
  const xa = matmulTransposed(x, layer.lora.a, n, fin, ctx.rank);
  const loraOut = matmulTransposed(xa, layer.lora.b, n, ctx.rank, fout);
  for (let i = 0; i < y.length; i++) y[i] += ctx.scaling * loraOut[i];
  return { y, cache: { x, xa } };
}

/** Returns dx and accumulates the LoRA gradients: dB = s dy^T (x A^T), dA = (s dy B)^T x. */
function linearBackward(ctx: StepContext, layer: Linear, cache: LinearCache, dy: Float64Array, n: number): Float64Array {
  const { inFeatures: fin, outFeatures: fout } = layer;
  const dx = matmul(dy, layer.weight, n, fout, fin);
  if (!layer.lora || !cache.xa) return dx;
  const r = ctx.rank;
  const dxa = matmul(dy, layer.lora.b, n, fout, r);
  for (let i = 0; i < dxa.length; i++) dxa[i] *= ctx.scaling;
  const dxLora = matmul(dxa, layer.lora.a, n, r, fin);
  for (let i = 0; i < dx.length; i++) dx[i] += dxLora[i];

  const gradB = ctx.grads.get(layer.lora.keyB)!;
  const scaledDy = dy.map((v) => v * ctx.scaling);
  addTransposedProduct(gradB, scaledDy, cache.xa, n, fout, r);
  addTransposedProduct(ctx.grads.get(layer.lora.keyA)!, dxa, cache.x, n, r, fin);
  return dx;
}

// ---- RMSNorm: y = x / sqrt(mean(x^2) + eps) * w ----

interface RmsNormCache {
  x: Float64Array;
  /** 1 / sqrt(mean(x^2) + eps) per row */
  invRms: Float64Array;
}

function rmsNormForward(x: Float64Array, weight: Float64Array, n: number, d: number, eps: number): { y: Float64Array; cache: RmsNormCache } {
  const y = new Float64Array(n * d);
  const invRms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sumSquares = 0;
    for (let c = 0; c < d; c++) sumSquares += x[i * d + c] ** 2;
    invRms[i] = 1 / Math.sqrt(sumSquares / d + eps);
    for (let c = 0; c < d; c++) y[i * d + c] = x[i * d + c] * invRms[i] * weight[c];
  }
  return { y, cache: { x, invRms } };
}

/** dx_j = r g_j - r^3 x_j (g . x) / d, with g = dy * w and r = invRms (the weight is frozen). */
function rmsNormBackward(cache: RmsNormCache, weight: Float64Array, dy: Float64Array, n: number, d: number): Float64Array {
  const dx = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const r = cache.invRms[i];
    let gDotX = 0;
    for (let c = 0; c < d; c++) gDotX += dy[i * d + c] * weight[c] * cache.x[i * d + c];
    for (let c = 0; c < d; c++) {
      dx[i * d + c] = r * dy[i * d + c] * weight[c] - r ** 3 * cache.x[i * d + c] * (gDotX / d);
    }
  }
  return dx;
}

// ---- RoPE, HF rotate-half layout: dimension c pairs with c + headDim / 2 ----

interface RopeTables {
  /** [T, headDim / 2] */
  cos: Float64Array;
  sin: Float64Array;
}

function ropeTables(spec: ModelSpec, seqLen: number): RopeTables {
  const half = spec.headDim / 2;
  const invFreq = ropeInverseFrequencies(spec.headDim, spec.ropeTheta, spec.ropeScaling);
  const cos = new Float64Array(seqLen * half);
  const sin = new Float64Array(seqLen * half);
  for (let t = 0; t < seqLen; t++) {
    for (let c = 0; c < half; c++) {
      cos[t * half + c] = Math.cos(t * invFreq[c]);
      sin[t * half + c] = Math.sin(t * invFreq[c]);
    }
  }
  return { cos, sin };
}

/**
 * Rotates every head of x [B*T, heads * headDim] in place by its position's angles; `inverse` rotates back
 * (the backward pass of a rotation is its transpose).
 */
function applyRope(x: Float64Array, tables: RopeTables, seqLen: number, rows: number, heads: number, headDim: number, inverse: boolean): void {
  const half = headDim / 2;
  const direction = inverse ? -1 : 1;
  for (let row = 0; row < rows; row++) {
    const t = row % seqLen;
    for (let h = 0; h < heads; h++) {
      const base = row * heads * headDim + h * headDim;
      for (let c = 0; c < half; c++) {
        const cos = tables.cos[t * half + c];
        const sin = direction * tables.sin[t * half + c];
        const first = x[base + c];
        const second = x[base + c + half];
        x[base + c] = first * cos - second * sin;
        x[base + c + half] = second * cos + first * sin;
      }
    }
  }
}

// ---- attention ----

interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** Query i sees key j iff j <= i, the key is not padding, and (with a window) i - j < window. */
function keyVisible(i: number, j: number, maskRow: number[], slidingWindow: number | null): boolean {
  return j <= i && maskRow[j] === 1 && (slidingWindow === null || i - j < slidingWindow);
}

interface AttentionCache {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  /** [B, H, T, T] softmax probabilities, 0 for hidden keys. */
  probs: Float64Array;
}

/**
 * q [B*T, H*hd] and k, v [B*T, KV*hd] (after RoPE) -> [B*T, H*hd]. Query head h reads kv head
 * h / (H / KV). A query that sees no key at all gets a zero output.
 */
function attentionForward(
  shape: AttentionShape,
  mask: number[][],
  slidingWindow: number | null,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
): { out: Float64Array; cache: AttentionCache } {
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd } = shape;
  const groupSize = H / KV;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float64Array(B * T * H * hd);
  const probs = new Float64Array(B * H * T * T);
  const scores = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / groupSize);
      for (let i = 0; i < T; i++) {
        const qBase = (b * T + i) * H * hd + h * hd;
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          if (!keyVisible(i, j, mask[b], slidingWindow)) continue;
          const kBase = (b * T + j) * KV * hd + g * hd;
          let dot = 0;
          for (let c = 0; c < hd; c++) dot += q[qBase + c] * k[kBase + c];
          scores[j] = dot * scale;
          max = Math.max(max, scores[j]);
        }
        if (max === -Infinity) continue;
        let sum = 0;
        const pBase = ((b * H + h) * T + i) * T;
        for (let j = 0; j < T; j++) {
          if (!keyVisible(i, j, mask[b], slidingWindow)) continue;
          probs[pBase + j] = Math.exp(scores[j] - max);
          sum += probs[pBase + j];
        }
        for (let j = 0; j < T; j++) {
          const p = (probs[pBase + j] /= sum);
          if (p === 0) continue;
          const vBase = (b * T + j) * KV * hd + g * hd;
          for (let c = 0; c < hd; c++) out[qBase + c] += p * v[vBase + c];
        }
      }
    }
  }
  return { out, cache: { q, k, v, probs } };
}

/** dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij'), dP_ij = dO_i . v_j; dq, dk come out before RoPE's backward. */
function attentionBackward(
  shape: AttentionShape,
  cache: AttentionCache,
  dOut: Float64Array,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: hd } = shape;
  const { q, k, v, probs } = cache;
  const groupSize = H / KV;
  const scale = 1 / Math.sqrt(hd);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const dProbs = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / groupSize);
      for (let i = 0; i < T; i++) {
        const qBase = (b * T + i) * H * hd + h * hd;
        const pBase = ((b * H + h) * T + i) * T;
        let rowDot = 0;
        for (let j = 0; j < T; j++) {
          const p = probs[pBase + j];
          if (p === 0) continue;
          const vBase = (b * T + j) * KV * hd + g * hd;
          let dot = 0;
          for (let c = 0; c < hd; c++) {
            dot += dOut[qBase + c] * v[vBase + c];
            dv[vBase + c] += p * dOut[qBase + c];
          }
          dProbs[j] = dot;
          rowDot += p * dot;
        }
        for (let j = 0; j < T; j++) {
          const p = probs[pBase + j];
          if (p === 0) continue;
          const dScore = p * (dProbs[j] - rowDot) * scale;
          const kBase = (b * T + j) * KV * hd + g * hd;
          for (let c = 0; c < hd; c++) {
            dq[qBase + c] += dScore * k[kBase + c];
            dk[kBase + c] += dScore * q[qBase + c];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---- the model ----

interface DecoderLayer {
  inputNorm: Float64Array;
  postAttentionNorm: Float64Array;
  linears: Record<LoraTarget, Linear>;
}

interface LayerCache {
  inputNorm: RmsNormCache;
  q: LinearCache;
  k: LinearCache;
  v: LinearCache;
  attention: AttentionCache;
  o: LinearCache;
  postAttentionNorm: RmsNormCache;
  gate: LinearCache;
  up: LinearCache;
  down: LinearCache;
  gateOut: Float64Array;
  upOut: Float64Array;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function loadLayers(input: CpuStepInput, grads: Map<string, Float64Array>): DecoderLayer[] {
  const { spec, weights, lora } = input;
  const d = spec.hiddenSize;
  const layers: DecoderLayer[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const prefix = `model.layers.${l}`;
    const linears = {} as Record<LoraTarget, Linear>;
    for (const target of LORA_TARGETS) {
      const [outFeatures, inFeatures] = linearShape(spec, target);
      const block = target === 'gate_proj' || target === 'up_proj' || target === 'down_proj' ? 'mlp' : 'self_attn';
      const name = `${prefix}.${block}.${target}.weight`;
      let branch: LoraBranch | null = null;
      if (lora.config.targets.includes(target)) {
        const keyA = peftKey(l, target, 'A');
        const keyB = peftKey(l, target, 'B');
        const r = lora.config.rank;
        branch = {
          keyA,
          keyB,
          a: toFloat64(lora.tensors(keyA), r * inFeatures, keyA),
          b: toFloat64(lora.tensors(keyB), outFeatures * r, keyB),
        };
        grads.set(keyA, new Float64Array(r * inFeatures));
        grads.set(keyB, new Float64Array(outFeatures * r));
      }
      linears[target] = {
        outFeatures,
        inFeatures,
        weight: toFloat64(weights(name), outFeatures * inFeatures, name),
        lora: branch,
      };
    }
    layers.push({
      inputNorm: toFloat64(weights(`${prefix}.input_layernorm.weight`), d, `${prefix}.input_layernorm.weight`),
      postAttentionNorm: toFloat64(
        weights(`${prefix}.post_attention_layernorm.weight`),
        d,
        `${prefix}.post_attention_layernorm.weight`,
      ),
      linears,
    });
  }
  return layers;
}

function layerForward(
  ctx: StepContext,
  input: CpuStepInput,
  layer: DecoderLayer,
  shape: AttentionShape,
  rope: RopeTables,
  x: Float64Array,
): { out: Float64Array; cache: LayerCache } {
  const { spec, batch } = input;
  const n = shape.batch * shape.seqLen;
  const d = spec.hiddenSize;
  const { linears } = layer;

  const inputNorm = rmsNormForward(x, layer.inputNorm, n, d, spec.rmsNormEps);
  const q = linearForward(ctx, linears.q_proj, inputNorm.y, n);
  const k = linearForward(ctx, linears.k_proj, inputNorm.y, n);
  const v = linearForward(ctx, linears.v_proj, inputNorm.y, n);
  applyRope(q.y, rope, shape.seqLen, n, shape.heads, shape.headDim, false);
  applyRope(k.y, rope, shape.seqLen, n, shape.kvHeads, shape.headDim, false);
  const attention = attentionForward(shape, batch.attentionMask, spec.slidingWindow, q.y, k.y, v.y);
  const o = linearForward(ctx, linears.o_proj, attention.out, n);
  const afterAttention = x.map((value, i) => value + o.y[i]);

  const postNorm = rmsNormForward(afterAttention, layer.postAttentionNorm, n, d, spec.rmsNormEps);
  const gate = linearForward(ctx, linears.gate_proj, postNorm.y, n);
  const up = linearForward(ctx, linears.up_proj, postNorm.y, n);
  const activation = gate.y.map((g, i) => g * sigmoid(g) * up.y[i]);
  const down = linearForward(ctx, linears.down_proj, activation, n);
  const out = afterAttention.map((value, i) => value + down.y[i]);

  return {
    out,
    cache: {
      inputNorm: inputNorm.cache,
      q: q.cache,
      k: k.cache,
      v: v.cache,
      attention: attention.cache,
      o: o.cache,
      postAttentionNorm: postNorm.cache,
      gate: gate.cache,
      up: up.cache,
      down: down.cache,
      gateOut: gate.y,
      upOut: up.y,
    },
  };
}

/** Gradient with respect to the layer's input, given the gradient of its output. */
function layerBackward(
  ctx: StepContext,
  input: CpuStepInput,
  layer: DecoderLayer,
  shape: AttentionShape,
  rope: RopeTables,
  cache: LayerCache,
  dOut: Float64Array,
): Float64Array {
  const n = shape.batch * shape.seqLen;
  const d = input.spec.hiddenSize;
  const { linears } = layer;

  // MLP: out = h + down(silu(gate) * up); silu'(g) = s (1 + g (1 - s)), s = sigmoid(g).
  const dActivation = linearBackward(ctx, linears.down_proj, cache.down, dOut, n);
  const dGate = new Float64Array(dActivation.length);
  const dUp = new Float64Array(dActivation.length);
  for (let i = 0; i < dActivation.length; i++) {
    const g = cache.gateOut[i];
    const s = sigmoid(g);
    dUp[i] = dActivation[i] * g * s;
    dGate[i] = dActivation[i] * cache.upOut[i] * s * (1 + g * (1 - s));
  }
  const dPostNorm = linearBackward(ctx, linears.gate_proj, cache.gate, dGate, n);
  const dPostNormUp = linearBackward(ctx, linears.up_proj, cache.up, dUp, n);
  for (let i = 0; i < dPostNorm.length; i++) dPostNorm[i] += dPostNormUp[i];
  const dAfterAttention = rmsNormBackward(cache.postAttentionNorm, layer.postAttentionNorm, dPostNorm, n, d);
  for (let i = 0; i < dAfterAttention.length; i++) dAfterAttention[i] += dOut[i];

  // Attention: afterAttention = x + o(attention(rope(q(norm x)), rope(k(norm x)), v(norm x))).
  const dAttention = linearBackward(ctx, linears.o_proj, cache.o, dAfterAttention, n);
  const { dq, dk, dv } = attentionBackward(shape, cache.attention, dAttention);
  applyRope(dq, rope, shape.seqLen, n, shape.heads, shape.headDim, true);
  applyRope(dk, rope, shape.seqLen, n, shape.kvHeads, shape.headDim, true);
  const dNorm = linearBackward(ctx, linears.q_proj, cache.q, dq, n);
  const dNormK = linearBackward(ctx, linears.k_proj, cache.k, dk, n);
  const dNormV = linearBackward(ctx, linears.v_proj, cache.v, dv, n);
  for (let i = 0; i < dNorm.length; i++) dNorm[i] += dNormK[i] + dNormV[i];
  const dx = rmsNormBackward(cache.inputNorm, layer.inputNorm, dNorm, n, d);
  for (let i = 0; i < dx.length; i++) dx[i] += dAfterAttention[i];
  return dx;
}

/** PyTorch AdamW at step 1: decoupled weight decay, then the bias-corrected Adam update. */
export function adamwFirstStep(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  opt: CpuStepInput['optimizer'],
): Float64Array {
  const [beta1, beta2] = opt.betas;
  const biasCorrection1 = 1 - beta1;
  const biasCorrection2 = 1 - beta2;
  const stepSize = opt.lr / biasCorrection1;
  return Float64Array.from(param, (p, i) => {
    const g = grad[i];
    const m = (1 - beta1) * g;
    const v = (1 - beta2) * g * g;
    const denom = Math.sqrt(v) / Math.sqrt(biasCorrection2) + opt.eps;
    return p * (1 - opt.lr * opt.weight_decay) - (stepSize * m) / denom;
  });
}

export function cpuReferenceStep(input: CpuStepInput): CpuStepOutput {
  const { spec, batch } = input;
  const B = batch.inputIds.length;
  const T = batch.inputIds[0].length;
  const N = B * T;
  const D = spec.hiddenSize;
  const V = spec.vocabSize;
  if (spec.numHeads % spec.numKvHeads !== 0) throw new Error('numHeads must be a multiple of numKvHeads');
  const shape: AttentionShape = { batch: B, seqLen: T, heads: spec.numHeads, kvHeads: spec.numKvHeads, headDim: spec.headDim };
  const grads = new Map<string, Float64Array>();
  const ctx: StepContext = { rank: input.lora.config.rank, scaling: loraScaling(input.lora.config), grads };
  const layers = loadLayers(input, grads);
  const rope = ropeTables(spec, T);

  // Forward.
  const embedding = toFloat64(input.weights('model.embed_tokens.weight'), V * D, 'model.embed_tokens.weight');
  let hidden: Float64Array = new Float64Array(N * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = batch.inputIds[b][t];
      if (!(id >= 0 && id < V)) throw new Error(`input_ids[${b}][${t}] = ${id} is outside the vocabulary`);
      hidden.set(embedding.subarray(id * D, (id + 1) * D), (b * T + t) * D);
    }
  }
  const layerCaches: LayerCache[] = [];
  for (const layer of layers) {
    const { out, cache } = layerForward(ctx, input, layer, shape, rope, hidden);
    layerCaches.push(cache);
    hidden = out;
  }
  const finalNormWeight = toFloat64(input.weights('model.norm.weight'), D, 'model.norm.weight');
  const finalNorm = rmsNormForward(hidden, finalNormWeight, N, D, spec.rmsNormEps);
  const lmHeadName = spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const lmHead = spec.tieWordEmbeddings ? embedding : toFloat64(input.weights(lmHeadName), V * D, lmHeadName);
  const logits = matmulTransposed(finalNorm.y, lmHead, N, D, V);

  // Loss: the label at t is predicted by the logits at t - 1.
  let labelCount = 0;
  for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) if (batch.labels[b][t] !== -100) labelCount++;
  if (labelCount === 0) throw new Error('the batch has no labels');
  const tokenLoss = new Float64Array(N);
  const dLogits = new Float64Array(N * V);
  let lossSum = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 1; t < T; t++) {
      const label = batch.labels[b][t];
      if (label === -100) continue;
      const row = (b * T + t - 1) * V;
      let max = -Infinity;
      for (let c = 0; c < V; c++) max = Math.max(max, logits[row + c]);
      let sumExp = 0;
      for (let c = 0; c < V; c++) sumExp += Math.exp(logits[row + c] - max);
      const logSumExp = max + Math.log(sumExp);
      tokenLoss[b * T + t] = logSumExp - logits[row + label];
      lossSum += tokenLoss[b * T + t];
      for (let c = 0; c < V; c++) dLogits[row + c] = Math.exp(logits[row + c] - logSumExp) / labelCount;
      dLogits[row + label] -= 1 / labelCount;
    }
  }
  let lastSum = 0;
  let lastCount = 0;
  for (let b = 0; b < B; b++) {
    const [start, end] = batch.answerSpans[b][batch.answerSpans[b].length - 1];
    for (let t = start; t < end; t++) {
      lastSum += tokenLoss[b * T + t];
      lastCount++;
    }
  }

  // Backward to the LoRA tensors.
  const dFinalNorm = matmul(dLogits, lmHead, N, V, D);
  let dHidden = rmsNormBackward(finalNorm.cache, finalNormWeight, dFinalNorm, N, D);
  for (let l = layers.length - 1; l >= 0; l--) {
    dHidden = layerBackward(ctx, input, layers[l], shape, rope, layerCaches[l], dHidden);
  }

  const after = new Map<string, Float64Array>();
  for (const layer of layers) {
    for (const target of LORA_TARGETS) {
      const branch = layer.linears[target].lora;
      if (!branch) continue;
      after.set(branch.keyA, adamwFirstStep(branch.a, grads.get(branch.keyA)!, input.optimizer));
      after.set(branch.keyB, adamwFirstStep(branch.b, grads.get(branch.keyB)!, input.optimizer));
    }
  }

  return {
    logits,
    tokenLoss,
    lossAllAnswers: lossSum / labelCount,
    lossLastAnswer: lastSum / lastCount,
    grads,
    after,
  };
}

/** The inputs of a loaded reference case, for cpuReferenceStep. */
export function stepInputOfCase(c: ReferenceCase): CpuStepInput {
  return {
    spec: c.spec,
    weights: (name) => c.weights.tensor(name),
    lora: { config: c.lora.config, tensors: (key) => c.lora.tensors.tensor(key) },
    batch: c.batch,
    optimizer: c.expected.json.optimizer,
  };
}
