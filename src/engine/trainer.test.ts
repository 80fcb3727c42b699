import { describe, expect, it } from 'vitest';
import { type SequenceBatch, collectTargets } from './trainer';

const batch: SequenceBatch = {
  inputIds: [[5, 6, 7, 8, 9, 10], [5, 6, 7, 8, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]],
  labels: [[-100, 6, -100, -100, 9, 10], [-100, -100, 7, 8, -100, -100]],
  answerSpans: [[[1, 2], [4, 6]], [[2, 4]]],
};

describe('collectTargets', () => {
  it('takes every labelled token, predicted by the row before it', () => {
    const t = collectTargets(batch, 'manyicl', 16);
    expect(Array.from(t.rows)).toEqual([0, 3, 4, 7, 8]);
    expect(Array.from(t.labels)).toEqual([6, 9, 10, 7, 8]);
    expect(Array.from(t.inObjective)).toEqual([1, 1, 1, 1, 1]);
  });

  it('puts only the final answer in the last-answer objective, but scores every answer', () => {
    const t = collectTargets(batch, 'last-answer', 16);
    expect(t.rows.length).toBe(5);
    expect(Array.from(t.inObjective)).toEqual([0, 1, 1, 1, 1]);
  });

  it('rejects labels outside the vocabulary', () => {
    expect(() => collectTargets(batch, 'manyicl', 9)).toThrow(/outside the vocabulary/);
  });
});
