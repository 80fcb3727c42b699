import { describe, expect, it } from 'vitest';
import type { Example } from './tasks';
import { FAMILY_TEMPLATES, type PromptTemplate, checkTemplate, parseAnswer, renderShot } from './templates';

const example: Example = { id: 'x-1', task: 'x', family: 'classification', input: 'the soup was good', answer: 'blue', choices: ['blue', 'seven'] };

describe('templates', () => {
  it('renders prompt and the labelled target separately', () => {
    const shot = renderShot(FAMILY_TEMPLATES.classification, example);
    expect(shot).toEqual({ prompt: 'in: the soup was good\nout:', target: ' blue\n' });
  });

  it('fills {choices}', () => {
    const t: PromptTemplate = { id: 't', prompt: '{input} ({choices})?', target: ' {answer}', separator: '\n' };
    expect(renderShot(t, example).prompt).toBe('the soup was good (blue, seven)?');
  });

  it('checks that the target holds {answer} once and only there', () => {
    for (const t of Object.values(FAMILY_TEMPLATES)) expect(() => checkTemplate(t)).not.toThrow();
    expect(() => checkTemplate({ id: 'a', prompt: '{input}', target: ' x', separator: '' })).toThrow(/exactly once/);
    expect(() => checkTemplate({ id: 'b', prompt: '{answer}', target: '{answer}', separator: '' })).toThrow(/only appear/);
  });
  it('parses an answer out of a generated continuation', () => {
    const t = FAMILY_TEMPLATES.math;
    expect(parseAnswer(t, ' 19\n\nq: 3+4\na: 7')).toBe('19');
    expect(parseAnswer(t, ' 19')).toBe('19');
    expect(parseAnswer(t, '19\n')).toBe('19');
  });});
