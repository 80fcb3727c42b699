// The memory plan against what a real training step allocates on the GPU, buffer bytes counted by the Gpu class.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { syntheticManyShotBatch } from './train-step';
import { LoraAdapter } from '../engine/lora';
import { Model } from '../engine/weights';
import { planTraining } from '../engine/plan';
import { MODEL_SHAPES } from './shapes';
import { LORA_TARGETS, type LoraTarget } from '../engine/spec';
import { Trainer, collectTargets } from '../engine/trainer';

describe('memory plan vs allocation', () => {
  const cases: { name: string; recompute: boolean; targets: LoraTarget[]; tablePartRows?: number }[] = [
    { name: 'every projection, saved activations', recompute: false, targets: [...LORA_TARGETS] },
    { name: 'q and v, recomputed, tables in parts of 128 rows', recompute: true, targets: ['q_proj', 'v_proj'], tablePartRows: 128 },
  ];
  for (const { name, recompute, targets, tablePartRows } of cases) {
    it(`tiny model, ${name}: the step's peak GPU bytes equal the plan`, async () => {
      const gpu = await testGpu();
      const spec = MODEL_SHAPES.tiny;
      const [batch, seqLen, rank] = [2, 32, 4];
      const maxPart = tablePartRows ? tablePartRows * spec.hiddenSize * 4 : gpu.limits.maxStorageBufferBindingSize;
      const limits = { maxStorageBufferBindingSize: maxPart, maxBufferSize: gpu.limits.maxBufferSize };
      const sample = syntheticManyShotBatch(batch, seqLen, spec.vocabSize, 5);
      const plan = planTraining(spec, {
        batch, seqLen, recompute, lora: { rank, targets }, linearType: () => 'F32', limits,
        targets: collectTargets(sample, 'manyicl', spec.vocabSize).rows.length,
      });
      if (tablePartRows) expect(plan.tableParts).toBe(spec.vocabSize / tablePartRows);

      const before = gpu.allocatedBytes;
      gpu.peakBytes = before;
      const model = Model.random(gpu, spec, 1, { maxTablePartBytes: maxPart });
      const lora = new LoraAdapter(gpu, spec, { rank, alpha: 2 * rank, targets });
      const trainer = new Trainer(model, lora, {
        objective: 'manyicl', adamw: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, maxGradNorm: 1, recompute,
      });
      try {
        const { loss } = await trainer.step([sample]);
        expect(Number.isFinite(loss)).toBe(true);
        expect(model.embedding.parts.length).toBe(plan.tableParts);
        expect(gpu.peakBytes - before).toBe(plan.totalBytes);
      } finally {
        trainer.destroy();
        lora.destroy();
        model.destroy();
      }
    });
  }
});
