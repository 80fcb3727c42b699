// The whole study on a tiny random model (Node only: it is long on SwiftShader and the same code runs in Chromium).
import { describe, expect, it } from 'vitest';
import { Generator } from '../engine/generate';
import { Model } from '../engine/weights';
import { testGpu } from '../gpu/gpu.testing';
import { defaultRunConfig } from '../train/run-config';
import { smallEmbeddedModel } from '../train/model.testing';
import { type StudyUnit, runStudy, studyMarkdown } from './study';

describe('the ManyICL study', () => {
  it('trains every method on the same token budget, evaluates each at every shot count with forgetting, and resumes', async () => {
    const gpu = await testGpu();
    const base = await smallEmbeddedModel();
    const run = {
      ...defaultRunConfig(), mode: 'full' as const, tasks: [{ task: 'arithmetic', weight: 1 }, { task: 'sentiment', weight: 1 }],
      contextLength: 64, batchSize: 2, steps: 2, warmupSteps: 0, lr: 1e-3,
    };
    const config = { run, forgetting: ['nli'], evaluation: { shots: [0], examples: 1, batchSize: 2, maxAnswerTokens: 2 } };
    const saved = new Map<string, StudyUnit>();
    const allocated = gpu.allocatedBytes;
    const result = await runStudy(gpu, base, config, { onUnit: (unit) => void saved.set(unit.key, unit) });
    // Nothing is left but the per-device scratch of the norm weight gradients (ops/rmsnorm.ts), made once.
    const afterFirst = gpu.allocatedBytes;
    expect(afterFirst - allocated).toBeLessThanOrEqual(1 << 20);
    expect(result.units.map((u) => u.key)).toEqual(['base', 'zero-shot', 'few-shot', 'manyicl', 'dedicated:arithmetic', 'dedicated:sentiment']);
    const budget = 2 * 2 * 64;
    for (const u of result.units.slice(1, 4)) expect(u.trainedTokens).toBeGreaterThanOrEqual(budget);
    for (const u of result.units.slice(4)) expect(u.trainedTokens).toBeGreaterThanOrEqual(budget / 2);
    // Zero-shot contexts hold one example each, so it takes more steps for the same tokens.
    expect(result.units[1].steps).toBeGreaterThan(result.units[3].steps);

    for (const method of ['base', 'zero-shot', 'few-shot', 'manyicl', 'dedicated']) {
      for (const task of ['arithmetic', 'sentiment']) {
        const rows = result.table.filter((r) => r.method === method && r.task === task);
        expect(rows.map((r) => r.shots)[0], `${method} ${task}`).toBe(0);
        for (const r of rows) expect(r.score >= 0 && r.score <= 1).toBe(true);
      }
    }
    expect(result.table.filter((r) => r.method === 'dedicated' && r.shots === 0).map((r) => r.task)).toEqual(['arithmetic', 'sentiment']);
    expect(result.forgetting.map((f) => f.method)).toEqual(['zero-shot', 'few-shot', 'manyicl', 'dedicated']);
    for (const f of result.forgetting) expect(f.rows.every((r) => r.task === 'nli')).toBe(true);
    const markdown = studyMarkdown(result);
    expect(markdown).toMatch(/^\| task \| method \| k=0 /);
    expect(markdown).toContain('| arithmetic | manyicl |');
    expect(markdown).toContain('| manyicl |');

    // A resumed study does not redo finished units.
    const partial = new Map([...saved].slice(0, 4));
    const redone: string[] = [];
    const resumed = await runStudy(gpu, base, config, { completed: partial, onUnit: (unit) => void redone.push(unit.key) });
    expect(redone).toEqual(['dedicated:arithmetic', 'dedicated:sentiment']);
    expect(gpu.allocatedBytes).toBe(afterFirst);
    expect(resumed.units.slice(0, 4)).toEqual(result.units.slice(0, 4));
    expect(resumed.table).toEqual(result.table);
  });
});

describe('the study on a model already on the GPU (a model from the cache)', () => {
  it('trains LoRA adapters on the one shared model and leaves it as it was', async () => {
    const gpu = await testGpu();
    const host = await smallEmbeddedModel();
    const model = Model.fromTensors(gpu, host.spec, host.tensors);
    const base = { spec: host.spec, tokenizer: host.tokenizer, model };
    const run = {
      ...defaultRunConfig(), mode: 'lora' as const, lora: { rank: 2, alpha: 4, targets: ['q_proj' as const, 'v_proj' as const] },
      tasks: [{ task: 'arithmetic', weight: 1 }], contextLength: 64, batchSize: 2, steps: 1, warmupSteps: 0, lr: 1e-2,
    };
    const config = { run, forgetting: [], evaluation: { shots: [0], examples: 1, batchSize: 2, maxAnswerTokens: 2 } };
    try {
      const prompt = [[1, 20, 21, 22]];
      const before = await new Generator(model, null).generate(prompt, { maxNewTokens: 4 });
      const allocated = gpu.allocatedBytes;
      const result = await runStudy(gpu, base, config);
      expect(result.units.map((u) => u.key)).toEqual(['base', 'zero-shot', 'few-shot', 'manyicl', 'dedicated:arithmetic']);
      expect(gpu.allocatedBytes).toBe(allocated);
      expect((await new Generator(model, null).generate(prompt, { maxNewTokens: 4 })).tokens).toEqual(before.tokens);
      await expect(runStudy(gpu, base, { ...config, run: { ...run, mode: 'full' } })).rejects.toThrow(/set the mode to LoRA/);
    } finally {
      model.destroy();
    }
  });
});
