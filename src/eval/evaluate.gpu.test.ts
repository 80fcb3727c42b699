import { describe, expect, it } from 'vitest';
import { arithmeticTask, passageQaTask, sentimentTask } from '../data/tasks';
import { parseAnswer } from '../data/templates';
import { Generator } from '../engine/generate';
import { Model } from '../engine/weights';
import { testGpu } from '../gpu/gpu.testing';
import { smallEmbeddedModel } from '../train/model.testing';
import { evaluateTask, forgetting } from './evaluate';
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
