import { describe, expect, it } from 'vitest';
import { ropeInverseFrequencies } from '../../engine/rope';
import type { ModelSpec, RopeScaling } from '../../engine/spec';
import { mulberry32 } from '../../util/random';
import { dequantize, quantize } from '../../engine/ggml';
import type { GgufMetadata } from './reader';
import {
  ggufNameOfHfTensor,
  hfNameOfGgufTensor,
  llama3RopeFreqFactors,
  permuteQkRows,
  qkRowOrder,
  ropeScalingFromFreqFactors,
  shortestFloat32,
  specFromGguf,
  unpermuteQkRowBytes,
  unpermuteQkRows,
} from './spec';
import { unpermuteQkRowsRef } from '../../engine/ops/unpermute_rows.reference';

function randomValues(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => next() * 2 - 1);
}

describe('tensor names', () => {
  const pairs: [string, string][] = [
    ['token_embd.weight', 'model.embed_tokens.weight'],
    ['output_norm.weight', 'model.norm.weight'],
    ['output.weight', 'lm_head.weight'],
    ['blk.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight'],
    ['blk.0.attn_q.weight', 'model.layers.0.self_attn.q_proj.weight'],
    ['blk.1.attn_k.weight', 'model.layers.1.self_attn.k_proj.weight'],
    ['blk.2.attn_v.weight', 'model.layers.2.self_attn.v_proj.weight'],
    ['blk.3.attn_output.weight', 'model.layers.3.self_attn.o_proj.weight'],
    ['blk.10.ffn_norm.weight', 'model.layers.10.post_attention_layernorm.weight'],
    ['blk.31.ffn_gate.weight', 'model.layers.31.mlp.gate_proj.weight'],
    ['blk.31.ffn_up.weight', 'model.layers.31.mlp.up_proj.weight'],
    ['blk.31.ffn_down.weight', 'model.layers.31.mlp.down_proj.weight'],
  ];
  it('maps every llama tensor both ways', () => {
    for (const [gguf, hf] of pairs) {
      expect(hfNameOfGgufTensor(gguf)).toBe(hf);
      expect(ggufNameOfHfTensor(hf)).toBe(gguf);
    }
  });
  it('gives null for names without a counterpart', () => {
    expect(hfNameOfGgufTensor('rope_freqs.weight')).toBeNull();
    expect(hfNameOfGgufTensor('blk.0.attn_q.bias')).toBeNull();
    expect(hfNameOfGgufTensor('blk.x.attn_q.weight')).toBeNull();
    expect(ggufNameOfHfTensor('model.layers.0.self_attn.rotary_emb.inv_freq')).toBeNull();
    expect(ggufNameOfHfTensor('lm_head.bias')).toBeNull();
  });
});

/** llama.cpp's permute, spelled out: reshape(heads, 2, hd/2, cols).swapaxes(1, 2).reshape(rows, cols). */
function numpyStylePermute(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const half = rows / heads / 2;
  const out = new Float32Array(w.length);
  // out[h, i, s, c] = w[h, s, i, c], both as row-major 4-D arrays.
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let s = 0; s < 2; s++)
        for (let c = 0; c < cols; c++) out[((h * half + i) * 2 + s) * cols + c] = w[((h * 2 + s) * half + i) * cols + c];
  return out;
}

/** HF RoPE: dimension j of a head pairs with j + hd/2. */
function ropeRotateHalf(q: Float32Array, heads: number, invFreq: Float32Array, pos: number): Float32Array {
  const hd = q.length / heads;
  const half = hd / 2;
  const out = new Float32Array(q.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      const [c, s] = [Math.cos(pos * invFreq[j]), Math.sin(pos * invFreq[j])];
      const [a, b] = [q[h * hd + j], q[h * hd + half + j]];
      out[h * hd + j] = a * c - b * s;
      out[h * hd + half + j] = b * c + a * s;
    }
  }
  return out;
}

/** llama.cpp's "normal" (non-NeoX) RoPE: dimension 2j pairs with 2j + 1. */
function ropeInterleaved(q: Float32Array, heads: number, invFreq: Float32Array, pos: number): Float32Array {
  const hd = q.length / heads;
  const out = new Float32Array(q.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < hd / 2; j++) {
      const [c, s] = [Math.cos(pos * invFreq[j]), Math.sin(pos * invFreq[j])];
      const [a, b] = [q[h * hd + 2 * j], q[h * hd + 2 * j + 1]];
      out[h * hd + 2 * j] = a * c - b * s;
      out[h * hd + 2 * j + 1] = b * c + a * s;
    }
  }
  return out;
}

function matVec(w: Float32Array, rows: number, cols: number, x: Float32Array): Float32Array {
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
    y[r] = sum;
  }
  return y;
}

describe('Q/K row permutation', () => {
  it('matches llama.cpp reshape/swapaxes permutation, and unpermute undoes it', () => {
    for (const [heads, hd, cols] of [
      [4, 16, 8],
      [2, 2, 3],
      [3, 64, 5],
    ]) {
      const rows = heads * hd;
      const w = randomValues(rows * cols, rows);
      const permuted = permuteQkRows(w, rows, cols, heads);
      expect(permuted).toEqual(numpyStylePermute(w, rows, cols, heads));
      expect(unpermuteQkRows(permuted, rows, cols, heads)).toEqual(w);
      expect(permuteQkRows(unpermuteQkRows(w, rows, cols, heads), rows, cols, heads)).toEqual(w);
      const order = qkRowOrder(rows, heads);
      expect(new Set(order).size).toBe(rows);
    }
    expect(Array.from(qkRowOrder(8, 2))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect(() => qkRowOrder(6, 4)).toThrow(/heads of even size/);
  });

  it('moves whole rows of quantized bytes without decoding them', () => {
    const [heads, hd, cols] = [2, 8, 64]; // rows of 64 values = 2 Q8_0 blocks
    const rows = heads * hd;
    const hf = randomValues(rows * cols, 7);
    const ggufBytes = quantize('Q8_0', permuteQkRows(hf, rows, cols, heads));
    const unpermuted = unpermuteQkRowBytes(ggufBytes, rows, heads);
    expect(unpermuted).toEqual(quantize('Q8_0', hf));
    // What the GPU kernel does while loading (engine/ops/unpermute_rows), by its CPU reference.
    expect(unpermuteQkRowsRef(ggufBytes, rows, heads)).toEqual(unpermuted);
    expect(dequantize('Q8_0', unpermuted, rows * cols)).toEqual(
      unpermuteQkRows(dequantize('Q8_0', ggufBytes, rows * cols), rows, cols, heads),
    );
  });

  it('a permuted projection with interleaved RoPE equals HF rotate-half RoPE on the original', () => {
    const [heads, kvHeads, hd, d] = [4, 2, 16, 24];
    const wq = randomValues(heads * hd * d, 1);
    const wk = randomValues(kvHeads * hd * d, 2);
    const x = randomValues(d, 3);
    const y = randomValues(d, 4);
    const invFreq = ropeInverseFrequencies(hd, 10000, null);
    const [posQ, posK] = [13, 5];

    const qHf = ropeRotateHalf(matVec(wq, heads * hd, d, x), heads, invFreq, posQ);
    const kHf = ropeRotateHalf(matVec(wk, kvHeads * hd, d, y), kvHeads, invFreq, posK);
    const qGguf = ropeInterleaved(matVec(permuteQkRows(wq, heads * hd, d, heads), heads * hd, d, x), heads, invFreq, posQ);
    const kGguf = ropeInterleaved(matVec(permuteQkRows(wk, kvHeads * hd, d, kvHeads), kvHeads * hd, d, y), kvHeads, invFreq, posK);

    // The rotated vectors are the same up to the row order ...
    const close = (a: Float32Array, b: Float32Array) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
    close(unpermuteQkRows(qGguf, heads * hd, 1, heads), qHf);
    close(unpermuteQkRows(kGguf, kvHeads * hd, 1, kvHeads), kHf);
    // ... so every attention score (query head h against kv head h / group) is the same.
    const group = heads / kvHeads;
    for (let h = 0; h < heads; h++) {
      const kv = Math.floor(h / group);
      let hfScore = 0;
      let ggufScore = 0;
      for (let j = 0; j < hd; j++) {
        hfScore += qHf[h * hd + j] * kHf[kv * hd + j];
        ggufScore += qGguf[h * hd + j] * kGguf[kv * hd + j];
      }
      expect(ggufScore).toBeCloseTo(hfScore, 5);
    }
  });
});

describe('RoPE frequency factors', () => {
  const llama3 = (factor: number, low: number, high: number, originalMax: number): RopeScaling => ({
    type: 'llama3',
    factor,
    lowFreqFactor: low,
    highFreqFactor: high,
    originalMaxPositionEmbeddings: originalMax,
  });

  it('divide the base frequencies into the HF Llama 3 frequencies', () => {
    const scaling = llama3(8, 1, 4, 8192);
    const factors = llama3RopeFreqFactors(scaling as Extract<RopeScaling, { type: 'llama3' }>, 128, 500000);
    const base = ropeInverseFrequencies(128, 500000, null);
    const hf = ropeInverseFrequencies(128, 500000, scaling);
    // Equal up to float32 rounding of the factors.
    base.forEach((b, i) => expect(Math.abs(b / factors[i] - hf[i]) / hf[i]).toBeLessThan(1e-6));
    expect(factors[0]).toBe(1);
    expect(factors[63]).toBe(8);
    expect(factors.some((f) => f > 1 && f < 8)).toBe(true);
  });

  const cases: [string, RopeScaling, number, number][] = [
    ['Llama 3.1 8B', llama3(8, 1, 4, 8192), 128, 500000],
    ['Llama 3.2 1B', llama3(32, 1, 4, 8192), 64, 500000],
    ['the llama3-tiny fixture', llama3(8, 1, 4, 64), 16, 500000],
    ['other thresholds', llama3(16, 1, 3, 4096), 128, 500000],
  ];
  for (const [label, scaling, headDim, theta] of cases) {
    it(`recovers the Llama 3 scaling of ${label} exactly`, () => {
      const factors = llama3RopeFreqFactors(scaling as Extract<RopeScaling, { type: 'llama3' }>, headDim, theta);
      expect(ropeScalingFromFreqFactors(factors, headDim, theta)).toEqual(scaling);
    });
  }

  it('recovers a scaling with the same frequencies when the parameters are not unique', () => {
    // Thresholds 8192 and 2048 again, written with other factors.
    const scaling = llama3(8, 2, 8, 16384);
    const factors = llama3RopeFreqFactors(scaling as Extract<RopeScaling, { type: 'llama3' }>, 128, 500000);
    const recovered = ropeScalingFromFreqFactors(factors, 128, 500000);
    expect(recovered).toEqual(llama3(8, 1, 4, 8192));
    expect(ropeInverseFrequencies(128, 500000, recovered)).toEqual(ropeInverseFrequencies(128, 500000, scaling));
  });

  it('reads all-ones as no scaling, equal factors as linear, and rejects other shapes', () => {
    expect(ropeScalingFromFreqFactors(new Float32Array(8).fill(1), 16, 10000)).toBeNull();
    expect(ropeScalingFromFreqFactors(new Float32Array(8).fill(4), 16, 10000)).toEqual({ type: 'linear', factor: 4 });
    expect(() => ropeScalingFromFreqFactors(new Float32Array([1, 3, 1, 3, 1, 3, 1, 3]), 16, 10000)).toThrow(
      /does not follow the Llama 3 scheme/,
    );
    expect(() => ropeScalingFromFreqFactors(new Float32Array(4).fill(1), 16, 10000)).toThrow(/expected head_dim \/ 2 = 8/);
  });
});

describe('specFromGguf', () => {
  /** A Llama 3.1 8B header as llama.cpp writes it. */
  const llama31Metadata = (): GgufMetadata => ({
    'general.architecture': 'llama',
    'llama.block_count': 32,
    'llama.context_length': 131072,
    'llama.embedding_length': 4096,
    'llama.feed_forward_length': 14336,
    'llama.attention.head_count': 32,
    'llama.attention.head_count_kv': 8,
    'llama.rope.freq_base': 500000,
    'llama.attention.layer_norm_rms_epsilon': Math.fround(1e-5),
    'llama.rope.dimension_count': 128,
    'llama.vocab_size': 128256,
    'tokenizer.ggml.bos_token_id': 128000,
    'tokenizer.ggml.eos_token_id': 128009,
  });
  const layerTensors = (n: number) =>
    Array.from({ length: n }, (_, l) =>
      ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'].map((t) => ({
        name: `blk.${l}.${t}.weight`,
        shape: [4096],
      })),
    ).flat();
  const llama31Tensors = () => [
    { name: 'rope_freqs.weight', shape: [64] },
    { name: 'token_embd.weight', shape: [4096, 128256] },
    ...layerTensors(32),
    { name: 'output_norm.weight', shape: [4096] },
    { name: 'output.weight', shape: [4096, 128256] },
  ];
  const llama31Factors = () =>
    llama3RopeFreqFactors({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 }, 128, 500000);

  it('reads a Llama 3.1 8B header', () => {
    const expected: ModelSpec = {
      arch: 'llama',
      vocabSize: 128256,
      hiddenSize: 4096,
      intermediateSize: 14336,
      numLayers: 32,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 128,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      slidingWindow: null,
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 131072,
      bosTokenId: 128000,
      eosTokenId: 128009,
    };
    expect(specFromGguf(llama31Metadata(), llama31Tensors(), llama31Factors())).toEqual(expected);
  });

  it('reads tied embeddings, uint64 values, the vocabulary from the token list, linear scaling and a sliding window', () => {
    const metadata = llama31Metadata();
    delete metadata['llama.vocab_size'];
    metadata['tokenizer.ggml.tokens'] = Array.from({ length: 128256 }, (_, i) => `t${i}`);
    metadata['llama.block_count'] = 32n;
    metadata['llama.rope.scaling.type'] = 'linear';
    metadata['llama.rope.scaling.factor'] = 2;
    metadata['llama.attention.sliding_window'] = 4096;
    const tensors = llama31Tensors().filter((t) => t.name !== 'output.weight' && t.name !== 'rope_freqs.weight');
    const spec = specFromGguf(metadata, tensors);
    expect(spec).toMatchObject({
      arch: 'mistral',
      vocabSize: 128256,
      numLayers: 32,
      tieWordEmbeddings: true,
      ropeScaling: { type: 'linear', factor: 2 },
      slidingWindow: 4096,
    });
  });

  it('names what it cannot use', () => {
    const tensors = llama31Tensors();
    const factors = llama31Factors();
    const withMetadata = (change: (m: GgufMetadata) => void) => {
      const metadata = llama31Metadata();
      change(metadata);
      return () => specFromGguf(metadata, tensors, factors);
    };
    expect(withMetadata((m) => (m['general.architecture'] = 'qwen2'))).toThrow('unsupported architecture "qwen2" (supported: llama)');
    expect(withMetadata((m) => delete m['general.architecture'])).toThrow('missing metadata key general.architecture');
    expect(withMetadata((m) => delete m['llama.block_count'])).toThrow('missing metadata key llama.block_count');
    expect(withMetadata((m) => delete m['llama.attention.layer_norm_rms_epsilon'])).toThrow(
      'missing metadata key llama.attention.layer_norm_rms_epsilon',
    );
    expect(withMetadata((m) => delete m['llama.context_length'])).toThrow('missing metadata key llama.context_length');
    expect(withMetadata((m) => (m['llama.attention.head_count_kv'] = 5))).toThrow(/not a multiple of head_count_kv 5/);
    expect(withMetadata((m) => (m['llama.attention.head_count_kv'] = [8, 8]))).toThrow(/per-layer list/);
    expect(withMetadata((m) => (m['llama.rope.dimension_count'] = 64))).toThrow(/partial RoPE/);
    expect(withMetadata((m) => (m['llama.rope.scaling.type'] = 'yarn'))).toThrow(/unsupported RoPE scaling type "yarn"/);
    expect(withMetadata((m) => (m['llama.vocab_size'] = 1000))).toThrow(/token_embd.weight has shape \[4096,128256\], expected \[4096, 1000\]/);
    expect(() => specFromGguf(llama31Metadata(), tensors)).toThrow(/rope_freqs.weight: pass that tensor's values/);
    expect(() => specFromGguf(llama31Metadata(), [...tensors, { name: 'blk.0.attn_q.bias', shape: [4096] }], factors)).toThrow(
      /blk.0.attn_q.bias: linear layers with bias/,
    );
    expect(() => specFromGguf(llama31Metadata(), [...tensors, { name: 'blk.0.ssm_a', shape: [4] }], factors)).toThrow(
      /unexpected tensor blk.0.ssm_a/,
    );
  });

  it('reads float32 values back as the decimals they were written from', () => {
    expect(shortestFloat32(Math.fround(1e-5))).toBe(1e-5);
    expect(shortestFloat32(Math.fround(1e-6))).toBe(1e-6);
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(500000)).toBe(500000);
  });
});
