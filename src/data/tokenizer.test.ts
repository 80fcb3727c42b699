import { describe, expect, it } from 'vitest';
import { CHAR_SPECIAL, DEFAULT_ALPHABET, charTokenizer } from './tokenizer';

describe('charTokenizer (test helper)', () => {
  it('round-trips text in its alphabet, one token per character', () => {
    const tok = charTokenizer();
    const text = 'q: 7+3*4\na: 19\n';
    const ids = tok.encode(text);
    expect(ids.length).toBe(text.length);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.vocabSize).toBe(DEFAULT_ALPHABET.length + 4);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(4);
  });

  it('adds no special tokens in encode, and special tokens decode to nothing', () => {
    const tok = charTokenizer('ab');
    expect(tok.encode('ab')).toEqual([4, 5]);
    expect(tok.decode([CHAR_SPECIAL.bos, 4, CHAR_SPECIAL.eos, 5, CHAR_SPECIAL.pad])).toBe('ab');
    expect(tok.bosId).toBe(1);
    expect(tok.padId).toBe(0);
    expect(charTokenizer('ab', { bos: false }).bosId).toBeNull();
  });

  it('maps unknown characters to unk and rejects ids outside the vocabulary', () => {
    const tok = charTokenizer('ab');
    expect(tok.encode('aXb')).toEqual([4, CHAR_SPECIAL.unk, 5]);
    expect(tok.decode(tok.encode('aXb'))).toBe('a?b');
    expect(() => tok.decode([6])).toThrow(/outside the vocabulary/);
    expect(() => charTokenizer('aa')).toThrow(/repeats/);
  });
});
