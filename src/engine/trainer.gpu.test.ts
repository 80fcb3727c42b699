import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../gpu/gpu.testing';
import { readSafetensors, tensorsOf } from '../model/safetensors';
import { LoraAdapter } from './lora';
import { Model } from './model';
import { parseAdapterConfig } from './peft';
import { loadReferenceCase } from '../reference/case';
import { caseReader } from '../testdata/cases.testing';
import { Trainer, type SequenceBatch } from './trainer';

const adamw = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

async function llamaTiny() {
  const gpu = await testGpu();
  const c = await loadReferenceCase(caseReader('reference/llama-tiny'));
  const model = Model.fromTensors(gpu, c.spec, tensorsOf(c.weights));
  const loraTensors = tensorsOf(c.lora.tensors);
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

  it('trains a LoRA on a subset of layers from PEFT init, and saves it as PEFT reads it', async () => {
    const { c, model, gpu } = await llamaTiny();
    const config = { rank: 2, alpha: 4, targets: ['q_proj' as const, 'v_proj' as const] };
    const lora = new LoraAdapter(gpu, c.spec, config);
    const trainer = new Trainer(model, lora, { objective: 'last-answer', adamw, maxGradNorm: 1, recompute: false });
    try {
      lora.initialize(5);
      const before = await lora.read('params');
      for (const e of lora.entries) {
        const values = before.get(e.key)!;
        if (e.which === 'B') expect(values.every((v) => v === 0)).toBe(true);
        else expect(values.some((v) => v !== 0) && values.every((v) => Math.abs(v) <= 1 / Math.sqrt(e.shape[1]))).toBe(true);
      }
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) losses.push((await trainer.step([c.batch])).loss);
      expect(losses[3]).toBeLessThan(losses[0]);

      const files = await lora.toPeftFiles('llama-tiny');
      const saved = readSafetensors(files['adapter_model.safetensors']);
      expect(parseAdapterConfig(JSON.parse(files['adapter_config.json']))).toEqual({ ...config, useRslora: false });
      expect([...saved.header.tensors.keys()].sort()).toEqual(lora.entries.map((e) => e.key).sort());
      const reloaded = new LoraAdapter(gpu, c.spec, config);
      reloaded.load((key) => ({ shape: saved.info(key).shape, data: saved.tensor(key) }));
      expect(await gpu.readF32(reloaded.params)).toEqual(await gpu.readF32(lora.params));
      reloaded.destroy();
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
