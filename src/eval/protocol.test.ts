import { describe, expect, it } from 'vitest';
import { arithmeticTask, passageQaTask, sentimentTask, topicTask } from '../data/tasks';
import { charTokenizer } from '../data/tokenizer';
import { answerEnd, evalPrompt, evalTask, familyMetric, headlineScore, maxShotsThatFit, meanScores, scorePrediction, shotCounts } from './protocol';

const tok = charTokenizer();

describe('evaluation protocol', () => {
  it('holds out a test split whose inputs training never sees', () => {
    const task = evalTask(arithmeticTask({ size: 2000 }));
    expect(task.train.size + task.test.size).toBe(2000);
    expect(task.test.size).toBeGreaterThan(100);
    const trainInputs = new Set(Array.from({ length: task.train.size }, (_, i) => task.train.example(i).input));
    for (let i = 0; i < task.test.size; i++) expect(trainInputs.has(task.test.example(i).input)).toBe(false);
  });

  it('asks a test example after k shots from the training split, in the training template', () => {
    const task = evalTask(arithmeticTask({ size: 500 }));
    const zero = evalPrompt(task, tok, 3, 0, 1);
    const test = task.test.example(3);
    expect(tok.decode(zero.ids)).toBe(`q: ${test.input}\na:`);
    expect(zero.ids[0]).toBe(tok.bosId);
    expect(zero.reference).toBe(test.answer);

    const four = evalPrompt(task, tok, 3, 4, 1);
    const text = tok.decode(four.ids);
    const shots = text.split('\n\n');
    expect(shots).toHaveLength(5);
    expect(shots[4]).toBe(`q: ${test.input}\na:`);
    const trainInputs = new Set(Array.from({ length: task.train.size }, (_, i) => task.train.example(i).input));
    for (const shot of shots.slice(0, 4)) {
      const [, input, answer] = /^q: (.*)\na: (.*)$/.exec(shot)!;
      expect(trainInputs.has(input)).toBe(true);
      expect(answer).toBeTruthy();
    }
    expect(new Set(shots).size).toBe(5);
    expect(evalPrompt(task, tok, 3, 4, 1)).toEqual(four);
    expect(evalPrompt(task, tok, 4, 4, 1).ids).not.toEqual(four.ids);
  });

  it('renames labels per prompt as training does: the shots and the reference use the same names', () => {
    const task = evalTask(sentimentTask({ size: 500 }));
    const prompt = evalPrompt(task, tok, 0, 6, 2);
    const canonical = new Set(task.test.labels);
    expect(canonical.has(prompt.reference)).toBe(false);
    const answers = tok.decode(prompt.ids).split('\n\n').slice(0, 6).map((shot) => shot.split('\nout: ')[1]);
    for (const a of answers) expect(canonical.has(a)).toBe(false);
    const names = new Set(answers);
    expect(names.size).toBeLessThanOrEqual(2);
    if (names.size === 2) expect(names.has(prompt.reference)).toBe(true);
  });

  it('finds the most shots that fit and the shot counts to run', () => {
    const task = evalTask(topicTask({ size: 500 }));
    const fit = maxShotsThatFit(task, tok, 200, 8, 1);
    expect(fit).toBeGreaterThan(1);
    expect(evalPrompt(task, tok, 0, fit, 1).ids.length + 8).toBeLessThanOrEqual(200);
    expect(evalPrompt(task, tok, 0, fit + 1, 1).ids.length + 8).toBeGreaterThan(200);
    expect(shotCounts(9)).toEqual([0, 1, 4, 9]);
    expect(shotCounts(16)).toEqual([0, 1, 4, 16]);
    expect(shotCounts(40, [0, 2])).toEqual([0, 2, 40]);
    expect(answerEnd(task)).toBe('\n');
  });

  it('scores with the family metric', () => {
    expect(familyMetric('classification')).toBe('accuracy');
    expect(familyMetric('nli')).toBe('accuracy');
    expect(familyMetric('summarization')).toBe('rouge');
    expect(familyMetric('qa')).toBe('squad');
    expect(familyMetric('math')).toBe('gsm8k');
    expect(scorePrediction('math', 'it is 12.', '12')).toEqual({ exact_match: 1 });
    expect(scorePrediction('qa', 'the cat sat', 'a cat sat down')).toEqual({ exact_match: 0, f1: 0.8 });
    const mean = meanScores([{ accuracy: 1 }, { accuracy: 0 }, { accuracy: 1 }, { accuracy: 1 }]);
    expect(mean).toEqual({ accuracy: 0.75 });
    expect(headlineScore('qa', { exact_match: 0, f1: 0.8 })).toBe(0.8);
    expect(evalTask(passageQaTask({ size: 200 })).family).toBe('qa');
  });
});
