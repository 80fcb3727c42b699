import { describe, expect, it } from 'vitest';
import { packContexts, toSequenceBatch } from '../data/packer';
import { arithmeticTask, nliTask, sentimentTask } from '../data/tasks';
import { charTokenizer } from '../data/tokenizer';
import { collectTargets } from '../engine/trainer';
import { lossObjective, packObjective } from './objectives';

describe('objectives', () => {
  it('map each run objective to its packing and its loss', () => {
    expect(['manyicl', 'last-answer', 'zero-shot', 'dedicated'].map((o) => packObjective(o as never))).toEqual(['manyicl', 'last-answer', 'zero-shot', 'manyicl']);
    expect(['manyicl', 'last-answer', 'zero-shot', 'dedicated'].map((o) => lossObjective(o as never))).toEqual(['manyicl', 'last-answer', 'manyicl', 'manyicl']);
  });

  it('ManyICL trains every answer token of a context; last-answer only the final answer', () => {
    const tok = charTokenizer();
    const sources = [sentimentTask(), nliTask(), arithmeticTask()].map((task) => ({ task, weight: 1 }));
    const contexts = packContexts({ tokenizer: tok, sources, contextLength: 200, objective: packObjective('last-answer'), seed: 6, count: 4 });
    const batch = toSequenceBatch(contexts);
    const all = collectTargets(batch, lossObjective('manyicl'), tok.vocabSize);
    const final = collectTargets(batch, lossObjective('last-answer'), tok.vocabSize);
    const labelled = contexts.reduce((n, c) => n + c.answers.reduce((m, a) => m + a.span[1] - a.span[0], 0), 0);
    const finalTokens = contexts.reduce((n, c) => n + c.answers.at(-1)!.span[1] - c.answers.at(-1)!.span[0], 0);
    expect(contexts.every((c) => c.answers.length > 1)).toBe(true);
    expect(all.rows.length).toBe(labelled);
    expect(all.inObjective.reduce((a, x) => a + x, 0)).toBe(labelled);
    expect(final.inObjective.reduce((a, x) => a + x, 0)).toBe(finalTokens);
  });
});
