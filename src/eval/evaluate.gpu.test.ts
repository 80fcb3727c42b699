import { describe, expect, it } from 'vitest';
import { arithmeticTask, passageQaTask, sentimentTask, topicTask } from '../data/tasks';
import { parseAnswer, renderTarget } from '../data/templates';
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { Trainer } from '../engine/trainer';
import { Model } from '../engine/weights';
import { testGpu } from '../gpu/gpu.testing';
import { smallEmbeddedModel } from '../train/model.testing';
import { evaluateTask, forgetting, rankedLabels } from './evaluate';
import { evalPrompt, evalTask } from './protocol';

describe('evaluation on the GPU', () => {
  it('generates an answer for every held-out example at every shot count and scores it with the family metric', async () => {
    const gpu = await testGpu();
    const base = await smallEmbeddedModel();
    const model = Model.fromTensors(gpu, base.spec, base.tensors);
    const generator = new Generator(model, null);
    const options = { shots: [0, 1], examples: 3, contextLength: 200, seed: 5, batchSize: 2, maxAnswerTokens: 6 };
    try {
      for (const source of [sentimentTask({ size: 300 }), arithmeticTask({ size: 300 }), passageQaTask({ size: 300 })]) {
        const task = evalTask(source);
        const progress: number[] = [];
        const results = await evaluateTask(generator, base.tokenizer, task, { ...options, onProgress: (done) => progress.push(done) });
        expect(results.map((r) => r.shots)).toEqual([0, 1, results.at(-1)!.shots]);
        expect(results.at(-1)!.shots).toBeGreaterThan(1);
        expect(progress.at(-1)).toBe(3 * results.length);
        for (const r of results) {
          expect(r.predictions).toHaveLength(3);
          const fields = { classification: ['accuracy'], math: ['exact_match'], qa: ['exact_match', 'f1'] }[r.family as 'classification' | 'math' | 'qa'];
          expect(Object.keys(r.scores).sort()).toEqual(fields);
          for (const v of [...Object.values(r.scores), r.score]) expect(v >= 0 && v <= 1).toBe(true);
        }
        // The prediction is the parsed greedy continuation of the protocol's prompt.
        const prompt = evalPrompt(task, base.tokenizer, 1, 1, options.seed);
        const { tokens } = await generator.generate([prompt.ids], { maxNewTokens: 6, stopStrings: ['\n'], decode: (ids) => base.tokenizer.decode(ids) });
        expect(results[1].predictions[1]).toEqual({
          exampleId: prompt.exampleId, reference: prompt.reference, prediction: parseAnswer(task.test.template, base.tokenizer.decode(tokens[0])),
        });
      }
    } finally {
      model.destroy();
    }
  });

  it('ranks the labels of a label task by the summed log-probability of their target tokens', async () => {
    const gpu = await testGpu();
    const base = await smallEmbeddedModel();
    const model = Model.fromTensors(gpu, base.spec, base.tensors);
    const lora = new LoraAdapter(gpu, base.spec, { rank: 2, alpha: 4, targets: ['q_proj', 'o_proj'] });
    lora.initialize(1); // B = 0: the same function as the base model
    const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw: { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, maxGradNorm: 0, recompute: false });
    const tok = base.tokenizer;
    try {
      const task = evalTask(topicTask({ size: 300 }));
      const prompts = [0, 1].map((i) => evalPrompt(task, tok, i, 2, 3));
      const ranked = await rankedLabels(new Generator(model, null), tok, task, prompts);
      for (const [i, p] of prompts.entries()) {
        expect(p.labels).toContain(p.reference);
        // The summed log-probability of each label's target, from the full logits on the CPU.
        const logProb = async (label: string) => {
          const target = tok.encode(renderTarget(task.test.template, label));
          const ids = [...p.ids, ...target];
          const logits = await trainer.logits({ inputIds: [ids], attentionMask: [ids.map(() => 1)], labels: [ids.map(() => -100)], answerSpans: [[]] });
          const V = base.spec.vocabSize;
          let sum = 0;
          for (let t = p.ids.length; t < ids.length; t++) {
            const row = logits.subarray((t - 1) * V, t * V);
            const max = Math.max(...row);
            sum += row[ids[t]] - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
          }
          return sum;
        };
        const scores = await Promise.all(p.labels!.map(logProb));
        expect(ranked[i]).toBe(p.labels![scores.indexOf(Math.max(...scores))]);
      }
      const results = await evaluateTask(new Generator(model, null), tok, task, { shots: [0, 2], examples: 2, contextLength: 120, seed: 3, batchSize: 2, maxAnswerTokens: 4, rankLabels: true });
      expect(results.find((r) => r.shots === 2)!.predictions.map((p) => p.prediction)).toEqual(ranked);
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  });

  it('forgetting is the drop of each task score evaluated before and after', () => {
    const at = (task: string, shots: number, score: number) => ({ task, family: 'math' as const, shots, scores: { exact_match: score }, score, predictions: [] });
    const { rows, meanDrop } = forgetting([at('a', 0, 0.5), at('a', 4, 0.75), at('b', 0, 0.25)], [at('a', 0, 0.25), at('a', 4, 0.75), at('b', 0, 0.5), at('c', 0, 1)]);
    expect(rows).toEqual([
      { task: 'a', shots: 0, before: 0.5, after: 0.25, drop: 0.25 },
      { task: 'a', shots: 4, before: 0.75, after: 0.75, drop: 0 },
      { task: 'b', shots: 0, before: 0.25, after: 0.5, drop: -0.25 },
    ]);
    expect(meanDrop).toBe(0);
  });
});
