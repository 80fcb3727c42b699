// The Llama/Mistral decoder on the GPU, forward and backward written out layer by layer (after llm.c).
// Base weights (weights.ts) are frozen; LoRA pairs adapt the linear layers; every saved activation has a name
// (activations.ts).
import type { Activations, InputBuffers } from './activations';
import { type LinearCall, type LinearGradients, loraHidden, loraLinearBackward, loraLinearForward } from './linear';
import type { LoraAdapter } from './lora';
import { attentionBackward, attentionForward } from './ops/attention';
import { embeddingBackward, embeddingForward } from './ops/embedding';
import { packF16, unpackF16 } from './ops/half';
import { rmsnormBackward, rmsnormForward, rmsnormWeightGrad } from './ops/rmsnorm';
import { ropeBackward, ropeForward } from './ops/rope';
import { swigluBackward, swigluForward } from './ops/swiglu';
import type { LoraTarget, ModelSpec } from './spec';
import { LINEAR_OF, type Model, type ModelGradients } from './weights';

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
    rows: acts.rows, precision: acts.dtype, label: `layer${l}.${target}`,
  });
  return {
    q_proj: call('q_proj', A.attnNormOut), k_proj: call('k_proj', A.attnNormOut), v_proj: call('v_proj', A.attnNormOut),
    o_proj: call('o_proj', A.attnOut), gate_proj: call('gate_proj', A.mlpNormOut), up_proj: call('up_proj', A.mlpNormOut),
    down_proj: call('down_proj', A.act),
  };
}

/**
 * Decoder layer l, forward: its input -> its output (acts.layerInput(l) -> acts.layerOutput(l)), saving what the
 * backward reads; with f16 activations the input is first stored as f16 (and rounded to it in place). `recompute`
 * (in the backward pass) rebuilds only what the backward reads: no output, no stored input, and of down_proj
 * only its LoRA h.
 */
export function layerForward(
  encoder: GPUCommandEncoder, model: Model, lora: LoraAdapter | null, acts: Activations, inputs: InputBuffers, l: number,
  recompute = false,
): void {
  const { gpu, spec } = model;
  const W = model.layers[l];
  const A = acts.layers[l];
  const N = acts.rows;
  const { hiddenSize: d, numHeads: h, numKvHeads: kv, headDim: hd } = spec;
  const x = acts.layerInput(l);
  const linear = linearCalls(model, lora, acts, l);
  if (acts.dtype === 'f16' && !recompute) packF16(gpu, encoder, { x, packed: acts.saved[l], count: N * d, label: 'resid.pack' });

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
  if (recompute) {
    loraHidden(gpu, encoder, linear.down_proj);
    return;
  }
  const out = acts.layerOutput(l);
  encoder.copyBufferToBuffer(A.mid, 0, out, 0, N * d * 4);
  loraLinearForward(gpu, encoder, linear.down_proj, out, true);
}

/** Embedding, every layer and the final norm: acts.hidden holds the normed last hidden state. */
export function forward(encoder: GPUCommandEncoder, model: Model, lora: LoraAdapter | null, acts: Activations, inputs: InputBuffers): void {
  const { gpu, spec } = model;
  const N = acts.rows;
  embeddingForward(gpu, encoder, { ids: inputs.ids, table: model.embedding, out: acts.layerInput(0), rows: N, label: 'embedding' });
  for (let l = 0; l < spec.numLayers; l++) layerForward(encoder, model, lora, acts, inputs, l);
  rmsnormForward(gpu, encoder, {
    x: acts.layerInput(spec.numLayers), weight: model.finalNorm, y: acts.hidden, rstd: acts.finalRstd,
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
  normWeightGrad(G.hidden, acts.layerInput(spec.numLayers), acts.finalRstd, weightGrads?.finalNorm, 'final_norm.dweight');
  rmsnormBackward(gpu, encoder, {
    dy: G.hidden, x: acts.layerInput(spec.numLayers), weight: model.finalNorm, rstd: acts.finalRstd, dx: G.resid,
    rows: N, dim: d, label: 'final_norm.backward',
  });
  for (let l = spec.numLayers - 1; l >= 0; l--) {
    const x = acts.layerInput(l);
    if (acts.dtype === 'f16') unpackF16(gpu, encoder, { x, packed: acts.saved[l], count: N * d, label: 'resid.unpack' });
    if (acts.options.recompute) layerForward(encoder, model, lora, acts, inputs, l, true);
    const W = model.layers[l];
    const A = acts.layers[l];
    const WG = weightGrads?.layers[l];
    const linear = linearCalls(model, lora, acts, l);
    const grads = (target: LoraTarget, dy: GPUBuffer, dx: GPUBuffer, accumulateDx: boolean): LinearGradients => ({
      dy, dx, accumulateDx, dh: G.loraH, dW: WG?.[LINEAR_OF[target]] ?? null,
    });

    // MLP: out = mid + down(silu(gate(n)) * up(n)), n = mlp_norm(mid). Its gradients go over its activations:
    // d act over act, then d gate and d up over gate and up.
    loraLinearBackward(gpu, encoder, linear.down_proj, grads('down_proj', G.resid, A.act, false));
    swigluBackward(gpu, encoder, { dOut: A.act, gate: A.gate, up: A.up, count: N * spec.intermediateSize, label: 'swiglu.backward' });
    loraLinearBackward(gpu, encoder, linear.gate_proj, grads('gate_proj', A.gate, G.normOut, false));
    loraLinearBackward(gpu, encoder, linear.up_proj, grads('up_proj', A.up, G.normOut, true));
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
    if (A.attnNormOut === A.mlpNormOut) {
      // One buffer holds both norms' outputs (recomputation): attn_norm_out again for q, k and v.
      rmsnormForward(gpu, encoder, { x, weight: W.attnNorm, y: A.attnNormOut, rstd: A.attnRstd, rows: N, dim: d, eps: spec.rmsNormEps, label: 'attn_norm' });
    }
    loraLinearBackward(gpu, encoder, linear.q_proj, grads('q_proj', G.q, G.normOut, false));
    loraLinearBackward(gpu, encoder, linear.k_proj, grads('k_proj', G.k, G.normOut, true));
    loraLinearBackward(gpu, encoder, linear.v_proj, grads('v_proj', G.v, G.normOut, true));
    normWeightGrad(G.normOut, x, A.attnRstd, WG?.attnNorm, 'attn_norm.dweight');
    rmsnormBackward(gpu, encoder, {
      dy: G.normOut, x, weight: W.attnNorm, rstd: A.attnRstd, dx: G.resid, rows: N, dim: d, accumulate: true, label: 'attn_norm.backward',
    });
  }
  if (weightGrads) {
    if (!inputs.embeddingGroups) throw new Error('full-parameter training needs the token groups of the batch');
    embeddingBackward(gpu, encoder, { dOut: G.resid, groups: inputs.embeddingGroups, dTable: weightGrads.embedding, dim: d, label: 'embedding.backward' });
  }
}
