import { describe, expect, it } from 'vitest';
import { formatBytes } from '../util/format';
import type { GgmlType } from '../engine/ggml';
import { GpuTooSmallError, checkPlanFits, describePlan, planTraining } from '../engine/plan';
import { MODEL_SHAPES } from './shapes';
import { LORA_TARGETS } from '../engine/spec';

const GiB = 1024 ** 3;

/** llama.cpp's Q4_K_M recipe: Q4_K, with Q6_K for attn_v and ffn_down in the layers use_more_bits picks. */
function q4KMLinearType(layers: number) {
  const moreBits = (i: number) => i < layers / 8 || i >= (7 * layers) / 8 || (i - Math.floor(layers / 8)) % 3 === 2;
  return (name: string): GgmlType => {
    const match = /layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.weight/.exec(name);
    if (!match) throw new Error(`not a linear weight: ${name}`);
    const [layer, proj] = [Number(match[1]), match[2]];
    return (proj === 'v_proj' || proj === 'down_proj') && moreBits(layer) ? 'Q6_K' : 'Q4_K';
  };
}

describe('memory plan', () => {
  const spec = MODEL_SHAPES['llama-3-8b'];
  const limits = { maxStorageBufferBindingSize: GiB, maxBufferSize: 4 * GiB };
  const options = {
    batch: 1, seqLen: 4096, recompute: true, targets: 1024,
    lora: { rank: 16, targets: [...LORA_TARGETS] }, linearType: q4KMLinearType(spec.numLayers), limits,
  };

  it('Llama-3-8B Q4_K_M, LoRA r16 on every projection, 4096 tokens: every binding under 1 GiB', () => {
    const plan = planTraining(spec, options);
    console.log(`Llama-3-8B Q4_K_M, seq 4096, LoRA r16 (all projections), recompute: ${describePlan(plan)}`);
    for (const b of plan.buffers) {
      if (/layers\.([1-9]|\d\d)\./.test(b.name)) continue; // layer 0 stands for the others
      console.log(`  ${b.group.padEnd(11)} ${String(b.count).padStart(3)} x ${formatBytes(b.bytes).padStart(10)}  ${b.name}`);
    }
    for (const b of plan.buffers) expect(b.bytes, b.name).toBeLessThan(GiB);
    // The 128256 x 4096 f32 embedding (2.1 GB) and the untied LM head split in two parts each.
    expect(plan.tableParts).toBe(2);
    const tableBytes = spec.vocabSize * spec.hiddenSize * 4;
    const parts = plan.buffers.filter((b) => b.name.startsWith('model.embed_tokens.weight['));
    expect(parts.reduce((n, b) => n + b.bytes * b.count, 0)).toBe(tableBytes);
    expect(plan.largest.bytes).toBe(tableBytes / 2);
    // Linear weights as llama.cpp stores them: 4.0 to 4.3 GB for the 7.0 B linear parameters of the decoder.
    const linear = plan.buffers.filter((b) => b.name.includes('_proj')).reduce((n, b) => n + b.bytes, 0);
    expect(linear).toBeGreaterThan(3.7e9);
    expect(linear).toBeLessThan(4.3e9);
    expect(plan.bytesByGroup.weights).toBeGreaterThan(linear + 2 * tableBytes);
    // No [T, T, heads] or [T, vocab] buffer: attention is tiled, the loss chunked.
    expect(plan.largest.bytes).toBeLessThan(4096 * spec.vocabSize * 4);
    expect(plan.totalBytes).toBeGreaterThan(9e9);
    expect(plan.totalBytes).toBeLessThan(14e9);
    expect(() => checkPlanFits(plan, limits)).not.toThrow();
    expect(() => checkPlanFits(plan, limits, 80e9)).not.toThrow();
  });

  it('says clearly when the GPU is too small', () => {
    const plan = planTraining(spec, options);
    expect(() => checkPlanFits(plan, limits, 8e9)).toThrow(GpuTooSmallError);
    expect(() => checkPlanFits(plan, limits, 8e9)).toThrow(/too small for the run: it needs 12\.7 GiB on the GPU \(weights 7\.8 GiB.*has about 7\.5 GiB/);
    // Chrome's default binding limit (128 MiB): the tables split further, but a [4096, 14336] f32 activation cannot.
    const small = { maxStorageBufferBindingSize: 128 * 1024 * 1024, maxBufferSize: 256 * 1024 * 1024 };
    const planSmall = planTraining(spec, { ...options, limits: small });
    expect(planSmall.tableParts).toBe(16); // 2 GiB in 128 MiB parts
    expect(() => checkPlanFits(planSmall, small)).toThrow(
      /binds at most 128 MiB per buffer, and these need more: layer: gate, up, act \(224 MiB\), d: gate, up, act \(224 MiB\), lora.params\/grads\/adam_m\/adam_v \(160 MiB\)\. Shorten the context.*; Lower the LoRA rank/,
    );
  });

  it('recomputation keeps one layer of saved activations instead of all', () => {
    const saved = planTraining(spec, { ...options, recompute: false });
    const recomputed = planTraining(spec, options);
    expect(saved.bytesByGroup.weights).toBe(recomputed.bytesByGroup.weights);
    expect(saved.bytesByGroup.activations).toBeGreaterThan(8 * recomputed.bytesByGroup.activations);
  });
});
