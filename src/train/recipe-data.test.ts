import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ContextStream } from '../data/packer';
import { collectTargets } from '../engine/trainer';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadTokenizer } from '../model/tokenizer';
import { recipeContextCount, recipeContexts, recipeRow, stepBatches } from './recipe-data';
import { type RunConfig, defaultRunConfig, streamOptions } from './run-config';

const read = (name: string) => JSON.parse(readFileSync(`public/${EMBEDDED_MODEL_PATH}/${name}`, 'utf8'));
const tokenizer = loadTokenizer({ tokenizer: read('tokenizer.json'), config: read('tokenizer_config.json') });
const VOCAB = 64;

const config = (patch: Partial<RunConfig>): RunConfig => ({
  ...defaultRunConfig(), mode: 'lora', contextLength: 96, batchSize: 2, gradAccumulation: 3, steps: 4,
  tasks: [{ task: 'sentiment', weight: 1 }, { task: 'arithmetic', weight: 1 }, { task: 'passage-qa', weight: 1 }], ...patch,
});

/** HF's causal-LM loss pairs: labels = input_ids where the mask is 1, else -100; logits at t-1 predict labels[t]. */
function hfLossPairs(ids: number[], mask: number[]): [number, number][] {
  const labels = ids.map((id, t) => (mask[t] === 1 ? id : -100));
  const pairs: [number, number][] = [];
  for (let t = 1; t < labels.length; t++) if (labels[t] !== -100) pairs.push([t - 1, labels[t]]);
  return pairs;
}

describe('recipe rows', () => {
  for (const objective of ['manyicl', 'last-answer'] as const) {
    it(`${objective}: every row is the packer's context, its mask exactly the tokens the engine trains on`, () => {
      const cfg = config({ objective, maxShots: objective === 'manyicl' ? undefined : 3 });
      const count = recipeContextCount(cfg);
      expect(count).toBe(24);
      const rows = [...recipeContexts(cfg, tokenizer)].map((c) => recipeRow(c, cfg, VOCAB));
      const packed = new ContextStream(streamOptions(cfg, tokenizer)).next(count);
      expect(rows).toHaveLength(count);
      let padded = 0;
      rows.forEach((row, i) => {
        const ctx = packed[i];
        expect(row.index).toBe(i);
        expect(row.input_ids).toEqual(ctx.inputIds);
        expect(tokenizer.decode(row.input_ids)).toBe(tokenizer.decode(ctx.inputIds));
        expect(row.spans).toEqual(ctx.answers.map((a) => ({ start: a.span[0], end: a.span[1], task: a.task, shot: a.shot })));
        if (ctx.attentionMask.includes(0)) {
          padded++;
          expect(row.attention_mask).toEqual(ctx.attentionMask);
        } else expect(row.attention_mask).toBeUndefined();

        // The mask, from the packer's answers: every answer span (ManyICL) or the last one only.
        const trained = objective === 'manyicl' ? ctx.answers : ctx.answers.slice(-1);
        const expected = ctx.inputIds.map((_, t) => (trained.some((a) => t >= a.span[0] && t < a.span[1]) ? 1 : 0));
        expect(row.assistant_masks).toEqual(expected);
        for (let t = 0; t < expected.length; t++) if (expected[t]) expect(ctx.labels[t]).toBe(ctx.inputIds[t]);
        for (const a of trained) expect(tokenizer.decode(row.input_ids.slice(a.span[0], a.span[1]))).toContain(a.answer);

        // HF's shifted loss covers exactly the engine's (row, label) targets of the objective.
        const targets = collectTargets(
          { inputIds: [ctx.inputIds], attentionMask: [ctx.attentionMask], labels: [ctx.labels], answerSpans: [ctx.answers.map((a) => a.span)] },
          objective, VOCAB,
        );
        const engine = [...targets.rows].map((r, p) => [r, targets.labels[p], targets.inObjective[p]]).filter(([, , o]) => o === 1).map(([r, l]) => [r, l]);
        expect(hfLossPairs(row.input_ids, row.assistant_masks)).toEqual(engine);
      });
      if (objective === 'last-answer') {
        expect(padded).toBeGreaterThan(0);
        expect(rows.some((r) => r.spans.length > 1)).toBe(true);
      }
    });
  }

  it("step s's micro-batches are rows [(s-1) x batch x accumulation, s x batch x accumulation) in order", () => {
    const cfg = config({});
    const rows = [...recipeContexts(cfg, tokenizer)].map((c) => recipeRow(c, cfg, VOCAB));
    const step2 = stepBatches(cfg, tokenizer, 2);
    expect(step2).toHaveLength(3);
    expect(step2.flatMap((b) => b.inputIds)).toEqual(rows.slice(6, 12).map((r) => r.input_ids));
    expect(step2.every((b) => b.inputIds.length === 2)).toBe(true);
  });
});
