import { describe, expect, it } from 'vitest';
import { lastNumber } from './gsm8k';
import { accuracy, gsm8k, rouge, score, squad } from './metrics';
import { rougeTokenize } from './rouge';
import { normalizeAnswer, squadExactMatch, squadF1 } from './squad';

// The F-measure of a precision and a recall, in the order both SQuAD's script and rouge_score compute it, so
// that the expectations below are the bit-exact values; the comments give them in plain numbers.
const F = (precision: number, recall: number) => (2 * precision * recall) / (precision + recall);

describe('SQuAD normalisation', () => {
  it('lowercases, drops punctuation and articles, collapses whitespace', () => {
    expect(normalizeAnswer('The Cat!')).toBe('cat');
    expect(normalizeAnswer('  A  man,\ta plan;\n  AN  apple ')).toBe('man plan apple');
    expect(normalizeAnswer('')).toBe('');
    expect(normalizeAnswer('the a an')).toBe('');
  });

  it('removes punctuation before articles', () => {
    expect(normalizeAnswer("an's")).toBe('ans'); // not "s": the apostrophe goes first, "ans" is no article
    expect(normalizeAnswer('(the)')).toBe(''); // "the" once the brackets are gone
    expect(normalizeAnswer('the-end')).toBe('theend');
    expect(normalizeAnswer('x_the')).toBe('xthe'); // '_' is punctuation
    expect(normalizeAnswer('U.S.A.')).toBe('usa');
  });

  it('removes only whole-word articles, with Unicode word boundaries', () => {
    expect(normalizeAnswer('theatre anthem another banana')).toBe('theatre anthem another banana');
    expect(normalizeAnswer('thé')).toBe('thé'); // é is a letter: no boundary after "th"
    expect(normalizeAnswer('éthe')).toBe('éthe');
    expect(normalizeAnswer('the\u0301')).toBe('\u0301'); // a combining mark is no word character in Python's \b
    expect(normalizeAnswer('A1 the2 an_')).toBe('a1 the2'); // digits are word characters; "an_" loses '_' first
  });

  it('keeps non-ASCII punctuation and splits on what Python calls whitespace', () => {
    expect(normalizeAnswer('“cat”')).toBe('“cat”');
    expect(normalizeAnswer('cat\u2014dog')).toBe('cat\u2014dog');
    expect(normalizeAnswer('cat\x1cdog\u00a0bird\u3000fish')).toBe('cat dog bird fish');
    expect(normalizeAnswer('cat\ufeffdog')).toBe('cat\ufeffdog'); // U+FEFF: JS whitespace, not Python's
  });
});

describe('SQuAD exact match and F1', () => {
  it('exact match compares normalised texts', () => {
    expect(squadExactMatch('The Eiffel Tower.', 'eiffel   tower')).toBe(1);
    expect(squadExactMatch('Eiffel', 'Eiffel Tower')).toBe(0);
  });

  it('F1 counts shared tokens with multiplicity', () => {
    // [cat, sat] against [cat, sat, down]: 2 shared, P = 1, R = 2/3, F1 = 0.8
    expect(squadF1('the cat sat', 'a cat sat down')).toBe(F(1, 2 / 3));
    expect(F(1, 2 / 3)).toBeCloseTo(0.8, 15);
    // [cat, cat, cat] against [cat]: 1 shared, P = 1/3, R = 1, F1 = 0.5
    expect(squadF1('cat cat cat', 'cat')).toBe(F(1 / 3, 1));
    expect(squadF1('cat cat cat', 'cat')).toBe(0.5);
    expect(squadF1('dog', 'cat')).toBe(0);
  });

  it('an empty prediction: F1 0 always, exact match 1 when the reference normalises to nothing', () => {
    expect(squadF1('', 'the')).toBe(0);
    expect(squadExactMatch('', 'the')).toBe(1);
    expect(squad('', ['The!'])).toEqual({ exact_match: 1, f1: 0 });
    expect(squad('', ['cat'])).toEqual({ exact_match: 0, f1: 0 });
  });

  it('takes each maximum over the references separately', () => {
    expect(squad('Paris', ['London', 'paris.', 'the city of Paris'])).toEqual({ exact_match: 1, f1: 1 });
    // "blue": P = 1/2, R = 1 (F1 2/3); "sky blue sky": 2 shared, P = 1, R = 2/3 (F1 0.8)
    expect(squad('blue sky', ['blue', 'sky blue sky'])).toEqual({ exact_match: 0, f1: F(1, 2 / 3) });
  });
});

describe('accuracy', () => {
  it('is exact match after SQuAD normalisation, the maximum over the references', () => {
    expect(accuracy('The Eiffel Tower!', ['eiffel tower'])).toEqual({ accuracy: 1 });
    expect(accuracy('Eiffel', ['eiffel tower'])).toEqual({ accuracy: 0 });
    expect(accuracy('positive', ['negative', 'Positive.'])).toEqual({ accuracy: 1 });
    expect(accuracy('', ['a'])).toEqual({ accuracy: 1 }); // both normalise to ''
    expect(accuracy('', ['no'])).toEqual({ accuracy: 0 });
  });
});

describe('ROUGE', () => {
  it('tokenizes lowercase [a-z0-9] runs; everything else separates', () => {
    expect(rougeTokenize("Hello, World! it's 3.14")).toEqual(['hello', 'world', 'it', 's', '3', '14']);
    expect(rougeTokenize('naïve café x_y')).toEqual(['na', 've', 'caf', 'x', 'y']);
    expect(rougeTokenize('the A an')).toEqual(['the', 'a', 'an']); // articles stay
    expect(rougeTokenize(' \n!? ')).toEqual([]);
  });

  it('ROUGE-1 clips counts; ROUGE-2 uses bigrams; ROUGE-L the longest common subsequence', () => {
    // target {the: 2, cat: 1}, prediction {the: 3}: overlap 2, P = 2/3, R = 2/3
    expect(rouge('the the the', ['The cat, the']).rouge1).toBe(F(2 / 3, 2 / 3));
    // target bigrams ab bc cd, prediction ab bd dc: overlap 1, P = R = 1/3; LCS "a b c": P = R = 3/4
    const r = rouge('a b d c', ['A b c d']);
    expect(r.rouge1).toBe(1);
    expect(r.rouge2).toBe(F(1 / 3, 1 / 3));
    expect(r.rougeL).toBe(F(3 / 4, 3 / 4));
    expect(r.rougeL).toBe(0.75);
    expect(r.rougeLsum).toBe(0.75);
  });

  it('a one-token text has no bigrams: ROUGE-2 is 0 even when the texts are equal', () => {
    expect(rouge('cat', ['Cat.'])).toEqual({ rouge1: 1, rouge2: 0, rougeL: 1, rougeLsum: 1 });
  });

  it('an empty prediction, or one without tokens, scores 0', () => {
    expect(rouge('', ['a cat'])).toEqual({ rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0 });
    expect(rouge('?!\n\n', ['a cat'])).toEqual({ rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0 });
    expect(rouge('a cat', [''])).toEqual({ rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0 });
  });

  it('ROUGE-Lsum splits on newlines and takes the union LCS of each target sentence', () => {
    // Whole texts: LCS of [a b c d] and [c d a b] is 2, so ROUGE-L = 0.5. Per sentence, "a b" and "c d" each
    // find their whole LCS in one predicted sentence: 4 hits of 4 tokens, ROUGE-Lsum = 1.
    const r = rouge('c d\na b', ['a b\nc d']);
    expect(r.rougeL).toBe(0.5);
    expect(r.rougeLsum).toBe(1);
    // Target [a a], prediction sentences [a] and [a]: both LCSs read out the same index (1), so the union holds
    // one token: 1 hit, P = R = 1/2, where ROUGE-L on the whole texts is 1.
    const s = rouge('a\na', ['a a']);
    expect(s.rougeL).toBe(1);
    expect(s.rougeLsum).toBe(0.5);
  });

  it('ROUGE-Lsum clips hits by token counts across target sentences, and drops empty lines', () => {
    // Target sentences [a b] [a b], prediction [a b]: the first sentence takes a and b, the second finds none
    // left (unclipped, it would count 4 hits for 2 predicted tokens): 2 hits, P = 2/2, R = 2/4
    expect(rouge('a b', ['a b\na b']).rougeLsum).toBe(F(1, 1 / 2));
    // Target [a b c] against prediction sentences [a b] and [c] (empty lines dropped): the union of the two
    // LCSs covers all three tokens, so 3 hits of 3.
    expect(rouge('a b\n\n\nc', ['a b c']).rougeLsum).toBe(1);
  });

  it('takes the maximum of each score over the references separately', () => {
    // "a b": rouge1 P = 2/3 R = 1, rouge2 P = 1/2 R = 1, rougeL P = 2/3 R = 1.
    // "c b a": rouge1 1, rouge2 0, rougeL P = R = 1/3.
    expect(rouge('a b c', ['a b', 'c b a'])).toEqual({
      rouge1: 1,
      rouge2: F(1 / 2, 1),
      rougeL: F(2 / 3, 1),
      rougeLsum: F(2 / 3, 1),
    });
  });
});

describe('GSM8K', () => {
  it('takes the last match of the number pattern without commas, $ and a final period', () => {
    expect(lastNumber('The answer is 42.')).toBe(42);
    expect(lastNumber('#### 1,234')).toBe(1234);
    expect(lastNumber('It costs $1,234.50')).toBe(1234.5);
    expect(lastNumber('3 apples and 4 pears make 7')).toBe(7);
    expect(lastNumber('she lost -3 points')).toBe(-3);
    expect(lastNumber('5-3')).toBe(-3); // "5", then "-3"
    expect(lastNumber('.5 of it')).toBe(0.5);
    expect(lastNumber('no number here')).toBeNull();
    expect(lastNumber('')).toBeNull();
    expect(lastNumber('42 ...')).toBeNull(); // the last match is "...", no number
    expect(lastNumber('version 1.2.3')).toBeNull();
  });

  it('compares the prediction and reference numbers by value', () => {
    const reference =
      'Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72';
    expect(gsm8k('She sold 72 clips.', [reference])).toEqual({ exact_match: 1 });
    expect(gsm8k('72.0', [reference])).toEqual({ exact_match: 1 });
    expect(gsm8k('$72.00', [reference])).toEqual({ exact_match: 1 });
    expect(gsm8k('72 clips, sold over 2 months', [reference])).toEqual({ exact_match: 0 }); // last number is 2
    expect(gsm8k('', [reference])).toEqual({ exact_match: 0 });
    expect(gsm8k('The total is 1,000', ['#### 1000'])).toEqual({ exact_match: 1 });
    expect(gsm8k('so -5', ['#### -5'])).toEqual({ exact_match: 1 });
    expect(gsm8k('x = 7', ['#### 8', '#### 7'])).toEqual({ exact_match: 1 });
    expect(gsm8k('x = 7', ['seven'])).toEqual({ exact_match: 0 }); // a reference without a number matches nothing
  });
});

describe('score', () => {
  it('dispatches by metric name and refuses no references', () => {
    expect(score('accuracy', 'a', ['A'])).toEqual({ accuracy: 1 });
    expect(() => score('squad', 'a', [])).toThrow(/no references/);
  });
});
