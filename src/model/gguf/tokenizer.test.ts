import { describe, expect, it } from 'vitest';
import { DEFAULT_ALPHABET } from '../../data/tokenizer';
import { characterTokenizerJson } from '../embedded';
import { type TokenizerFiles, loadTokenizer } from '../tokenizer';
import { parseGgufHeader } from './reader';
import { GGUF_TOKEN_TYPE, ggufTokenizerMetadata, tokenizerJsonFromGguf } from './tokenizer';
import { type GgufValue, writeGguf } from './writer';

// ---- A small SentencePiece-style tokenizer.json (as HF writes Llama 2's): BPE with byte fallback. ----

const SPM_CHARS = ['▁', 't', 'h', 'e', 'a', 'n', 'd', 'o', 'r', 'l', 'w', 'i', 's', 'c', '.', ','];
/** Merges ranked by the id of the piece they make; each merged piece has exactly one split into pieces. */
const SPM_MERGES: [string, string][] = [
  ['h', 'e'],
  ['▁', 't'],
  ['▁t', 'he'],
  ['i', 'n'],
  ['▁', 'a'],
  ['n', 'd'],
  ['▁a', 'nd'],
  ['e', 'r'],
  ['o', 'r'],
  ['▁', 'w'],
  ['▁w', 'or'],
  ['l', 'd'],
  ['▁wor', 'ld'],
  ['i', 's'],
  ['▁', 'is'],
  ['l', 'l'],
];

function sentencePieceTokenizer(): TokenizerFiles {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const c of SPM_CHARS) vocab[c] = Object.keys(vocab).length;
  for (const [l, r] of SPM_MERGES) vocab[l + r] = Object.keys(vocab).length;
  const userToken = { id: Object.keys(vocab).length, content: '<|user|>' };
  const added = (id: number, content: string, special: boolean) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special,
  });
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [added(0, '<unk>', true), added(1, '<s>', true), added(2, '</s>', true), added(userToken.id, userToken.content, false)],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '▁' },
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        ],
      },
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: '<s>', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<s>', type_id: 1 } },
          { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          { type: 'Strip', content: ' ', start: 1, stop: 0 },
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: SPM_MERGES.map(([l, r]) => `${l} ${r}`),
      },
    },
    config: {
      tokenizer_class: 'LlamaTokenizer',
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      pad_token: null,
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
    },
  };
}

// ---- A small byte-level BPE tokenizer.json, shaped like Llama 3's. ----

/** GPT-2's printable stand-in for each byte. */
function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable(b) ? b : next++));
  return chars;
}

const LLAMA3_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const BPE_MERGES: [string, string][] = [
  ['Ġ', 't'],
  ['h', 'e'],
  ['Ġt', 'he'],
  ['i', 'n'],
  ['Ġ', 'a'],
  ['n', 'd'],
  ['Ġa', 'nd'],
  ['e', 'r'],
  ['Ġ', 'w'],
  ['o', 'r'],
  ['Ġw', 'or'],
  ['l', 'd'],
  ['Ġwor', 'ld'],
  ['Ġ', 'Ġ'],
  ['1', '2'],
  ['3', '4'], // crosses Llama 3's 3-digit split: only GPT-2's pre-tokenizer can use it
  ['12', '3'],
  ['Ã', '©'],
  ["'", 's'],
  ["'", 'S'], // Llama 3 splits "'S" case-insensitively, GPT-2 does not
];

function byteLevelTokenizer(): TokenizerFiles {
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((c, i) => (vocab[c] = i));
  for (const [l, r] of BPE_MERGES) vocab[l + r] = Object.keys(vocab).length;
  const base = Object.keys(vocab).length;
  const added = (id: number, content: string, special: boolean) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special,
  });
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [added(base, '<|begin_of_text|>', true), added(base + 1, '<|end_of_text|>', true), added(base + 2, '<tool>', false)],
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [],
            special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [base], tokens: ['<|begin_of_text|>'] } },
          },
        ],
      },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: true,
        vocab,
        merges: BPE_MERGES,
      },
    },
    config: {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: '<|begin_of_text|>',
      eos_token: '<|end_of_text|>',
      clean_up_tokenization_spaces: false,
      chat_template: '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}',
    },
  };
}

const TEXTS = [
  'the world',
  'and the world is there',
  'The World AND the wOrld, or not.',
  '  leading spaces\n\nnew lines\ttabs  trailing  ',
  'héllo wörld € 🙂 日本語',
  "don't you'll I'M it's IT'S",
  '123456 1234 12',
  'inside <s> and </s> text',
  'a<|user|>b <tool> c',
  '<|begin_of_text|>the end<|end_of_text|>',
  'spaces before punctuation . , ? ! and can \'t',
  '',
  ' ',
];

/** GGUF metadata for a tokenizer, through a real file: write, then read the header back. */
async function throughGguf(metadata: Record<string, GgufValue>) {
  const header = await parseGgufHeader(writeGguf({ metadata: { 'general.architecture': 'llama', ...metadata }, tensors: [] }));
  return header.metadata;
}

function expectSameTokenizer(original: TokenizerFiles, converted: TokenizerFiles) {
  const a = loadTokenizer(original);
  const b = loadTokenizer(converted);
  expect({ vocabSize: b.vocabSize, bos: b.bosId, eos: b.eosId, pad: b.padId }).toEqual({
    vocabSize: a.vocabSize,
    bos: a.bosId,
    eos: a.eosId,
    pad: a.padId,
  });
  for (const text of TEXTS) {
    const ids = a.encode(text);
    expect(b.encode(text), text).toEqual(ids);
    if (ids.length > 0) expect(b.decode(ids), text).toBe(a.decode(ids)); // decode([]) throws
  }
  const withSpecials = [a.bosId ?? 0, ...a.encode('the world'), a.eosId ?? 0, 5, 6];
  expect(b.decode(withSpecials)).toBe(a.decode(withSpecials));
  return a;
}

describe('SentencePiece (llama) tokenizers', () => {
  it('writes tokens, scores, token types and ids as llama.cpp does', () => {
    const files = sentencePieceTokenizer();
    const metadata = ggufTokenizerMetadata(files);
    expect(metadata['tokenizer.ggml.model']).toBe('llama');
    const arrayOf = (key: string) => (metadata[key] as { values: readonly unknown[] }).values;
    const tokens = arrayOf('tokenizer.ggml.tokens') as string[];
    const types = Array.from(arrayOf('tokenizer.ggml.token_type') as number[]);
    const scores = Array.from(arrayOf('tokenizer.ggml.scores') as number[]);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(types.slice(0, 4)).toEqual([GGUF_TOKEN_TYPE.unknown, GGUF_TOKEN_TYPE.control, GGUF_TOKEN_TYPE.control, GGUF_TOKEN_TYPE.byte]);
    expect(types[tokens.indexOf('<|user|>')]).toBe(GGUF_TOKEN_TYPE.userDefined);
    expect(types[tokens.indexOf('▁the')]).toBe(GGUF_TOKEN_TYPE.normal);
    // Merged pieces score by merge rank, best first.
    expect(scores[tokens.indexOf('he')]).toBe(-0);
    expect(scores[tokens.indexOf('▁the')]).toBe(-2);
    expect(scores[tokens.indexOf('ll')]).toBe(-15);
    expect(metadata['tokenizer.ggml.bos_token_id']).toEqual({ type: 'uint32', value: 1 });
    expect(metadata['tokenizer.ggml.eos_token_id']).toEqual({ type: 'uint32', value: 2 });
    expect(metadata['tokenizer.ggml.unknown_token_id']).toEqual({ type: 'uint32', value: 0 });
    expect(metadata['tokenizer.ggml.add_bos_token']).toBe(true);
    expect(metadata['tokenizer.ggml.add_space_prefix']).toBe(true);
  });

  it('round-trips through GGUF: same encodings and decodings', async () => {
    const original = sentencePieceTokenizer();
    const metadata = await throughGguf(ggufTokenizerMetadata(original));
    const a = expectSameTokenizer(original, tokenizerJsonFromGguf(metadata));
    // The fixture does use merges and byte fallback.
    const vocab = (original.tokenizer as { model: { vocab: Record<string, number> } }).model.vocab;
    expect(a.encode('the world and')).toEqual([vocab['▁the'], vocab['▁world'], vocab['▁and']]);
    expect(a.encode('é')).toEqual([vocab['▁'], vocab['<0xC3>'], vocab['<0xA9>']]);
  });

  it('without stored merges, derives them from the scores as SentencePiece ranks pieces', async () => {
    const original = sentencePieceTokenizer();
    const metadata = await throughGguf(ggufTokenizerMetadata(original));
    delete metadata['tokenizer.ggml.merges'];
    expectSameTokenizer(original, tokenizerJsonFromGguf(metadata));
  });

  it('reads llama.cpp-style scores (higher is merged first) without merges', async () => {
    // llama.cpp files from tokenizer.model: every piece has a score, increasing piece ids score lower.
    const original = sentencePieceTokenizer();
    const metadata = await throughGguf(ggufTokenizerMetadata(original));
    delete metadata['tokenizer.ggml.merges'];
    metadata['tokenizer.ggml.scores'] = (metadata['tokenizer.ggml.tokens'] as string[]).map((_, id) => -id);
    expectSameTokenizer(original, tokenizerJsonFromGguf(metadata));
  });
});

describe('padding to the model vocabulary', () => {
  it('adds unused tokens up to the vocabulary size, and refuses a tokenizer larger than it', async () => {
    const original = byteLevelTokenizer();
    const size = loadTokenizer(original).vocabSize;
    const padded = ggufTokenizerMetadata(original, { vocabSize: size + 3 });
    const tokens = (padded['tokenizer.ggml.tokens'] as { values: readonly unknown[] }).values;
    const types = (padded['tokenizer.ggml.token_type'] as { values: readonly unknown[] }).values;
    expect(tokens.slice(size)).toEqual([`[PAD${size}]`, `[PAD${size + 1}]`, `[PAD${size + 2}]`]);
    expect(types.slice(size)).toEqual([GGUF_TOKEN_TYPE.unused, GGUF_TOKEN_TYPE.unused, GGUF_TOKEN_TYPE.unused]);
    const converted = loadTokenizer(tokenizerJsonFromGguf(await throughGguf(padded)));
    for (const text of TEXTS) expect(converted.encode(text)).toEqual(loadTokenizer(original).encode(text));
    expect(() => ggufTokenizerMetadata(original, { vocabSize: size - 1 })).toThrow(/more than the model's vocabulary/);
  });
});

describe('byte-level BPE (gpt2) tokenizers', () => {
  it('writes tokens, token types, merges and the pre-tokenizer as llama.cpp does', () => {
    const metadata = ggufTokenizerMetadata(byteLevelTokenizer());
    expect(metadata['tokenizer.ggml.model']).toBe('gpt2');
    expect(metadata['tokenizer.ggml.pre']).toBe('llama-bpe');
    const arrayOf = (key: string) => (metadata[key] as { values: readonly unknown[] }).values;
    const tokens = arrayOf('tokenizer.ggml.tokens') as string[];
    const types = Array.from(arrayOf('tokenizer.ggml.token_type') as number[]);
    expect(arrayOf('tokenizer.ggml.merges').slice(0, 3)).toEqual(['Ġ t', 'h e', 'Ġt he']);
    expect(types[tokens.indexOf('<|begin_of_text|>')]).toBe(GGUF_TOKEN_TYPE.control);
    expect(types[tokens.indexOf('<tool>')]).toBe(GGUF_TOKEN_TYPE.userDefined);
    expect(types[tokens.indexOf('Ġthe')]).toBe(GGUF_TOKEN_TYPE.normal);
    expect(metadata['tokenizer.ggml.scores']).toBeUndefined();
    expect(metadata['tokenizer.ggml.add_bos_token']).toBe(true); // from the post-processor template
    expect(metadata['tokenizer.chat_template']).toMatch(/bos_token/);
  });

  it('round-trips through GGUF: same encodings and decodings', async () => {
    const original = byteLevelTokenizer();
    const converted = tokenizerJsonFromGguf(await throughGguf(ggufTokenizerMetadata(original)));
    const a = expectSameTokenizer(original, converted);
    expect(a.encode(' the world').length).toBe(2);
    expect(converted.config.chat_template).toBe(original.config.chat_template);
  });

  it('reads the GPT-2 pre-tokenizer too', async () => {
    const original = byteLevelTokenizer();
    (original.tokenizer as Record<string, unknown>).pre_tokenizer = {
      type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true,
    };
    const model = (original.tokenizer as { model: Record<string, unknown> }).model;
    model.ignore_merges = false;
    const metadata = await throughGguf(ggufTokenizerMetadata(original));
    expect(metadata['tokenizer.ggml.pre']).toBe('gpt2');
    expectSameTokenizer(original, tokenizerJsonFromGguf(metadata));
  });
});

describe('other tokenizers', () => {
  it('keeps a character-level tokenizer whole in tokenizer.huggingface.json', async () => {
    const original: TokenizerFiles = {
      tokenizer: characterTokenizerJson(DEFAULT_ALPHABET, 64),
      config: { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', add_bos_token: false, clean_up_tokenization_spaces: false },
    };
    const metadata = await throughGguf(ggufTokenizerMetadata(original));
    expect(metadata['tokenizer.ggml.model']).toBe('no_vocab');
    expect(metadata['tokenizer.ggml.padding_token_id']).toBe(0);
    expectSameTokenizer(original, tokenizerJsonFromGguf(metadata));
  });

  it('names what it cannot read', () => {
    expect(() => tokenizerJsonFromGguf({})).toThrow(/no tokenizer/);
    expect(() => tokenizerJsonFromGguf({ 'tokenizer.ggml.model': 't5' })).toThrow(/"t5" is not supported/);
    expect(() => tokenizerJsonFromGguf({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.merges': [], 'tokenizer.ggml.pre': 'qwen2' })).toThrow(
      /pre-tokenizer "qwen2" is not supported/,
    );
    expect(() => tokenizerJsonFromGguf({ 'tokenizer.ggml.model': 'no_vocab' })).toThrow(/no usable tokenizer/);
  });
});
