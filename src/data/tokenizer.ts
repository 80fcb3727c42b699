// The tokenizer the data layer packs with. The real one (a model's tokenizer.json) plugs in behind the same
// interface; `charTokenizer` below is only the deterministic CPU helper for tests and the tiny test model.

export interface Tokenizer {
  /**
   * Token ids of `text`, WITHOUT special tokens: the packer adds BOS itself and encodes template pieces
   * one at a time, so an implementation must not prepend BOS or append EOS here.
   */
  encode(text: string): number[];
  /** Text of `ids`; special tokens (BOS, EOS, padding) decode to ''. */
  decode(ids: number[]): string;
  vocabSize: number;
  /** Put first in every packed context when not null. */
  bosId: number | null;
  eosId: number | null;
  /** Fills the context after the last shot (attention mask 0, no label). */
  padId: number;
}

/** Lowercase letters, digits, space, newline and the punctuation the built-in tasks use. */
export const DEFAULT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 \n.,:;?!'-+*=()/";

/** Character tokenizer special ids; the alphabet starts at CHAR_OFFSET. */
export const CHAR_SPECIAL = { pad: 0, bos: 1, eos: 2, unk: 3 } as const;
const CHAR_OFFSET = 4;

/**
 * TEST/CPU HELPER, not a model tokenizer: one token per character of `alphabet` (ids from 4 up), plus
 * pad 0, bos 1, eos 2 and unk 3 for characters outside the alphabet (they decode to '?').
 */
export function charTokenizer(alphabet: string = DEFAULT_ALPHABET, opts: { bos?: boolean } = {}): Tokenizer {
  const chars = Array.from(alphabet);
  if (new Set(chars).size !== chars.length) throw new Error('charTokenizer: the alphabet repeats a character');
  const idOf = new Map(chars.map((c, i) => [c, i + CHAR_OFFSET]));
  return {
    vocabSize: chars.length + CHAR_OFFSET,
    bosId: opts.bos === false ? null : CHAR_SPECIAL.bos,
    eosId: CHAR_SPECIAL.eos,
    padId: CHAR_SPECIAL.pad,
    encode: (text) => Array.from(text, (c) => idOf.get(c) ?? CHAR_SPECIAL.unk),
    decode: (ids) =>
      ids
        .map((id) => {
          if (id === CHAR_SPECIAL.unk) return '?';
          if (id < CHAR_OFFSET) return '';
          const c = chars[id - CHAR_OFFSET];
          if (c === undefined) throw new Error(`charTokenizer: id ${id} is outside the vocabulary (${chars.length + CHAR_OFFSET})`);
          return c;
        })
        .join(''),
  };
}
