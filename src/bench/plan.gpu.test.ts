// The memory plan against what a real training step allocates on the GPU, buffer bytes counted by the Gpu class.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { syntheticManyShotBatch } from './train-step';
import type { ActivationDtype } from '../engine/activations';
import { LoraAdapter } from '../engine/lora';
import { Model } from '../engine/weights';
import { planTraining } from '../engine/plan';
import { MODEL_SHAPES } from './shapes';
import { LORA_TARGETS, type LoraTarget, baseWeights } from '../engine/spec';
import { Trainer, collectTargets } from '../engine/trainer';
import { type GgmlType, dequantize, quantize } from '../engine/ggml';
import type { EncodedTensor } from '../engine/weights';
import { randomArray } from '../util/random';

/** Random weights of `spec` as a quantized checkpoint holds them: norms F32, every matrix (tables too) `type`. */
function encodedModel(gpu: Parameters<typeof Model.fromEncoded>[0], spec: typeof MODEL_SHAPES.tiny, type: GgmlType, maxTablePartBytes: number): Model {
  const tensors = new Map<string, EncodedTensor>();
  baseWeights(spec).forEach(({ name, shape }, i) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const t = shape.length === 1 ? 'F32' : type;
    const values = randomArray(count, i + 1, shape.length === 1 ? 0.1 : 1 / Math.sqrt(shape[1]));
    const bytes = t === 'F32' ? new Uint8Array(values.buffer) : quantize(t, values);
    tensors.set(name, { type: t, shape, bytes, dequantize: () => dequantize(t, bytes, count) });
  });
  return Model.fromEncoded(gpu, spec, (name) => tensors.get(name), { maxTablePartBytes });
}

describe('memory plan vs allocation', () => {
  // tablePartRows: the binding limit is that many f32 table rows (it bounds the logits chunk too); quant: the
  // model's matrices, tables included, in that type, under a 32 KiB binding limit (two parts of 256 rows).
  const cases: { name: string; recompute: boolean; targets: LoraTarget[]; tablePartRows?: number; quant?: GgmlType; activations?: ActivationDtype }[] = [
    { name: 'every projection, saved activations', recompute: false, targets: [...LORA_TARGETS] },
    { name: 'q and v, recomputed, tables in parts of 128 rows', recompute: true, targets: ['q_proj', 'v_proj'], tablePartRows: 128 },
    { name: 'Q8_0 weights, tables in 2 parts, every projection, recomputed', recompute: true, targets: [...LORA_TARGETS], quant: 'Q8_0' },
    { name: 'f16 activations, every projection, recomputed', recompute: true, targets: [...LORA_TARGETS], activations: 'f16' },
    { name: 'f16 activations, q and v, saved activations', recompute: false, targets: ['q_proj', 'v_proj'], activations: 'f16' },
  ];
  for (const { name, recompute, targets, tablePartRows, quant, activations } of cases) {
    it(`tiny model, ${name}: the step's peak GPU bytes equal the plan`, async () => {
      const gpu = await testGpu();
      const spec = MODEL_SHAPES.tiny;
      const [batch, seqLen, rank] = [2, 32, 4];
      const maxPart = quant ? 32 * 1024 : tablePartRows ? tablePartRows * spec.hiddenSize * 4 : gpu.limits.maxStorageBufferBindingSize;
      const limits = { maxStorageBufferBindingSize: maxPart, maxBufferSize: gpu.limits.maxBufferSize };
      const sample = syntheticManyShotBatch(batch, seqLen, spec.vocabSize, 5);
      const plan = planTraining(spec, {
        batch, seqLen, recompute, activations, lora: { rank, targets }, linearType: () => quant ?? 'F32', tableType: () => quant ?? 'F32', limits,
        targets: collectTargets(sample, 'manyicl', spec.vocabSize).rows.length,
      });
      if (tablePartRows) expect(plan.tableParts).toBe(spec.vocabSize / tablePartRows);
      if (quant) expect(plan.tableParts).toBe(2);

      const before = gpu.allocatedBytes;
      gpu.peakBytes = before;
      const model = quant ? encodedModel(gpu, spec, quant, maxPart) : Model.random(gpu, spec, 1, { maxTablePartBytes: maxPart });
      const lora = new LoraAdapter(gpu, spec, { rank, alpha: 2 * rank, targets });
      const trainer = new Trainer(model, lora, {
        objective: 'manyicl', adamw: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, maxGradNorm: 1, recompute, activations,
      });
      try {
        const { loss } = await trainer.step([sample]);
        expect(Number.isFinite(loss)).toBe(true);
        expect(model.embedding.parts.length).toBe(plan.tableParts);
        expect(model.lmHead.type ?? 'F32').toBe(quant ?? 'F32');
        expect(gpu.peakBytes - before).toBe(plan.totalBytes);
      } finally {
        trainer.destroy();
        lora.destroy();
        model.destroy();
      }
    });
  }
});
