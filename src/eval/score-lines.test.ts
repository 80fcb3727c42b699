import { describe, expect, it } from 'vitest';
import { ScoreInputError, scoreLine, scoreLines } from './score-lines';

const line = (metric: unknown, prediction: unknown, references: unknown) => JSON.stringify({ metric, prediction, references });

describe('scoreLine', () => {
  it('prints exactly the fields of each metric, in order', () => {
    expect(scoreLine(line('accuracy', 'The cat', ['cat']), 1)).toBe('{"accuracy":1}');
    expect(scoreLine(line('squad', 'cat cat cat', ['dog', 'cat']), 1)).toBe('{"exact_match":0,"f1":0.5}');
    expect(scoreLine(line('rouge', 'a b d c', ['a b c d']), 1)).toBe(
      '{"rouge1":1,"rouge2":0.3333333333333333,"rougeL":0.75,"rougeLsum":0.75}',
    );
    expect(scoreLine(line('gsm8k', 'so 1,000.', ['#### 1000']), 1)).toBe('{"exact_match":1}');
  });

  it('ignores other fields of the input and skips blank lines', () => {
    expect(scoreLine('{"id": 7, "metric": "accuracy", "prediction": "x", "references": ["y"]}', 1)).toBe('{"accuracy":0}');
    expect(scoreLine('', 1)).toBeNull();
    expect(scoreLine('  \t', 1)).toBeNull();
  });

  it.each([
    ['{"metric": "accuracy",', /^line 4: invalid JSON: /],
    ['[1, 2]', /^line 4: expected a JSON object, got an array$/],
    ['"accuracy"', /^line 4: expected a JSON object, got a string$/],
    ['{"prediction": "a", "references": ["a"]}', /^line 4: missing "metric" \(one of "accuracy", "squad", "rouge", "gsm8k"\)$/],
    [line('bleu', 'a', ['a']), /^line 4: unknown metric "bleu" \(expected one of "accuracy", "squad", "rouge", "gsm8k"\)$/],
    [line(3, 'a', ['a']), /^line 4: "metric" must be a string .*got a number$/],
    ['{"metric": "squad", "references": ["a"]}', /^line 4: missing "prediction"$/],
    [line('squad', null, ['a']), /^line 4: "prediction" must be a string, got null$/],
    ['{"metric": "rouge", "prediction": "a"}', /^line 4: missing "references"$/],
    [line('rouge', 'a', 'a'), /^line 4: "references" must be an array of strings, got a string$/],
    [line('gsm8k', 'a', []), /^line 4: "references" is empty/],
    [line('gsm8k', '1', ['1', 2]), /^line 4: "references"\[1\] must be a string, got a number$/],
  ])('refuses %s naming the line and the problem', (text, message) => {
    expect(() => scoreLine(text, 4)).toThrow(ScoreInputError);
    expect(() => scoreLine(text, 4)).toThrow(message);
  });
});

describe('scoreLines', () => {
  it('gives one line per input line, in order, and none for blank lines', () => {
    const input = [line('gsm8k', '7', ['#### 7']), '', line('accuracy', 'no', ['yes']), '   '];
    expect(scoreLines(input)).toEqual({ output: ['{"exact_match":1}', '{"accuracy":0}'] });
  });

  it('stops at the first bad line, counting blank lines in its number, after the lines before it', () => {
    const input = [line('accuracy', 'a', ['a']), '', line('squad', 'a', []), line('accuracy', 'b', ['b'])];
    expect(scoreLines(input)).toEqual({
      output: ['{"accuracy":1}'],
      error: 'line 3: "references" is empty: give at least one reference',
    });
  });
});
