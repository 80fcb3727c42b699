import { describe, expect, test } from 'vitest';
import type { PackedContext, PackedAnswer } from '../data/packer';
import type { StepResult } from '../engine/trainer';
import { stepLosses } from './session';

const answer = (task: string, shot: number): PackedAnswer => ({ task, shot, exampleId: `${task}-${shot}`, span: [0, 1], start: 0, answer: 'x' });
const context = (answers: PackedAnswer[]): PackedContext => ({ index: 0, inputIds: [], labels: [], attentionMask: [], answers, labelMaps: {} });

describe('stepLosses', () => {
  test('per shot, per task, and per task and shot (the per-task in-context curve)', () => {
    // Batch size 2, two micro-batches: contexts 0-1 in the first, 2 in the second.
    const contexts = [context([answer('a', 0), answer('a', 1)]), context([answer('b', 0)]), context([answer('a', 0), answer('a', 1), answer('a', 2)])];
    const result = { answerLoss: [[[4, 2], [9]], [[6, 1, 0.5]]] } as unknown as StepResult;
    const losses = stepLosses(contexts, result, 2);
    expect(losses.shotLoss).toEqual([(4 + 9 + 6) / 3, 1.5, 0.5]);
    expect(losses.taskLoss).toEqual({ a: (4 + 2 + 6 + 1 + 0.5) / 5, b: 9 });
    expect(losses.taskShotLoss).toEqual({ a: [5, 1.5, 0.5], b: [9] });
  });
});
