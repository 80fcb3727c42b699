import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../gpu/gpu.testing';
import { LoraAdapter } from './lora';
import { Model } from './weights';
import { caseTensors, loadReferenceCase } from '../reference/case';
import { caseReader } from '../testdata/cases.testing';
import { Trainer, type SequenceBatch } from './trainer';

const adamw = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

async function llamaTiny() {
  const gpu = await testGpu();
  const c = await loadReferenceCase(caseReader('reference/llama-tiny'));
  const { base, lora: loraTensors } = caseTensors(c);
  const model = Model.fromTensors(gpu, c.spec, base);
  return { gpu, c, model, loraTensors };
}

function rows(batch: SequenceBatch, from: number, to: number): SequenceBatch {
  return {
    inputIds: batch.inputIds.slice(from, to), attentionMask: batch.attentionMask.slice(from, to),
    labels: batch.labels.slice(from, to), answerSpans: batch.answerSpans.slice(from, to),
  };
}

describe('Trainer', () => {
  it('accumulates micro-batch gradients normalised by the step total, as one big batch', async () => {
    const { c, model, gpu, loraTensors } = await llamaTiny();
    const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
    const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw, maxGradNorm: 0, recompute: false });
    try {
      lora.load(loraTensors);
      const whole = await trainer.step([c.batch], { captureGradients: true });
      const afterWhole = await gpu.readF32(lora.params);
      lora.load(loraTensors);
      // The two sequences hold different numbers of answer tokens, so per-micro-batch means would differ.
      const split = await trainer.step([rows(c.batch, 0, 1), rows(c.batch, 1, 2)], { captureGradients: true });
      const afterSplit = await gpu.readF32(lora.params);
      expect(split.targetTokens).toBe(whole.targetTokens);
      expect(Math.abs(split.loss - whole.loss) / whole.loss).toBeLessThan(1e-6);
      expect(maxRelError(split.gradients!, whole.gradients!)).toBeLessThan(1e-5);
      expect(maxRelError(afterSplit, afterWhole)).toBeLessThan(1e-5);
      expect(split.answerLoss.flat()).toEqual(whole.answerLoss.flat());
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  });

  it('reports the global gradient norm of the step', async () => {
    const { c, model, gpu, loraTensors } = await llamaTiny();
    const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
    const sgdLike = { ...adamw, weightDecay: 0 };
    const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw: sgdLike, maxGradNorm: 1e-3, recompute: false });
    try {
      lora.load(loraTensors);
      const r = await trainer.step([c.batch], { captureGradients: true });
      let sumSq = 0;
      for (const g of r.gradients!) sumSq += g * g;
      expect(Math.abs(r.gradNorm - Math.sqrt(sumSq)) / r.gradNorm).toBeLessThan(1e-4);
      expect(r.gradNorm).toBeGreaterThan(1e-3);
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  });

  it('refuses adapter tensors of the wrong shape and weights that do not fit the config', async () => {
    const { c, model, gpu, loraTensors } = await llamaTiny();
    const lora = new LoraAdapter(gpu, c.spec, { ...c.lora.config, rank: 3 });
    expect(() => lora.load(loraTensors)).toThrow(/has shape \[4,64\], expected \[3,64\]/);
    lora.destroy();
    model.destroy();
    const wrong = { ...c.spec, hiddenSize: 32 };
    expect(() => Model.fromTensors(gpu, wrong, (name) => ({ shape: c.weights.info(name).shape, data: c.weights.tensor(name) }))).toThrow(/model.embed_tokens.weight has shape \[384,64\], but the model's config implies \[384,32\]/);
  });
});
