import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { defaultRunConfig } from '../train/run-config';
import { smallEmbeddedModel } from '../train/model.testing';
import { compareObjectives } from './compare-objectives';

describe('ManyICL against last-answer-only fine-tuning', () => {
  it('lowers the mean loss over all shot positions more, for the same steps', { timeout: 900_000 }, async () => {
    const gpu = await testGpu();
    const config = {
      ...defaultRunConfig(), mode: 'lora' as const, tasks: [{ task: 'arithmetic', weight: 1 }], contextLength: 128,
      batchSize: 2, steps: 12, warmupSteps: 2, lr: 2e-2, lora: { ...defaultRunConfig().lora, rank: 4, alpha: 8 },
    };
    const r = await compareObjectives(gpu, await smallEmbeddedModel(), config, 4);
    const show = (c: { perShot: number[]; mean: number }) => `mean ${c.mean.toFixed(3)} | ${c.perShot.map((x) => x.toFixed(2)).join(' ')}`;
    console.log(`per-shot loss, before:            ${show(r.before)}`);
    console.log(`after ${r.steps} steps of ManyICL:     ${show(r.after.manyicl)}`);
    console.log(`after ${r.steps} steps of last-answer: ${show(r.after['last-answer'])}`);
    expect(r.before.perShot.length).toBeGreaterThan(2);
    expect(r.after.manyicl.mean).toBeLessThan(r.before.mean);
    expect(r.before.mean - r.after.manyicl.mean).toBeGreaterThan(r.before.mean - r.after['last-answer'].mean);
  });
});
