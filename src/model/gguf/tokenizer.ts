// Tokenizers in GGUF (tokenizer.ggml.*) <-> HF tokenizer.json + tokenizer_config.json.
//   'llama': SentencePiece BPE (Llama 1/2, Mistral): tokens, scores, token types, byte fallback (<0xXX>
//            tokens). Merge priority is the score of the merged piece; the HF form is a BPE model whose
//            merges are ranked by that score, with the "▁" normalizer and decoder of Llama's tokenizer.json.
//   'gpt2':  byte-level BPE (Llama 3): tokens, token types, merges ("a b"), and tokenizer.ggml.pre naming
//            the pre-tokenizer regex.
//   'no_vocab' with tokenizer.huggingface.json: any other tokenizer (e.g. the embedded character-level one),
//            stored whole.
import type { TokenizerFiles } from '../tokenizer';
import type { GgufMetadata, GgufMetadataValue } from './reader';
import { type GgufValue, ggufValue } from './writer';
import { NO_TOKEN } from '../validate';

type Json = Record<string, unknown>;

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export const GGUF_TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const SPACE_MARK = '▁';
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
/** Llama 3's pre-tokenizer split (llama.cpp: tokenizer.ggml.pre "llama-bpe"). */
const LLAMA3_SPLIT_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const PRE_TOKENIZERS = ['llama-bpe', 'gpt2'] as const;
/**
 * Whether decoding removes spaces before punctuation (HF's clean_up_tokenization_spaces). GGUF has no key
 * for it; our converter keeps the HF setting here. Absent, it defaults to what the models' own configs say:
 * false for SentencePiece (Llama 2, Mistral), true otherwise (Llama 3, and transformers.js's default).
 */
const CLEAN_UP_KEY = 'tokenizer.huggingface.clean_up_tokenization_spaces';
type PreTokenizerName = (typeof PRE_TOKENIZERS)[number];

function fail(message: string): never {
  throw new Error(`GGUF tokenizer: ${message}`);
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

// ---------------------------------------------------------------------------------------------------------
// GGUF metadata -> tokenizer.json

function stringList(metadata: GgufMetadata, key: string): string[] | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail(`${key} must be a list of strings`);
  return value as string[];
}

function numberList(metadata: GgufMetadata, key: string, length: number): number[] | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== length) fail(`${key} must be a list of ${length} numbers`);
  return value.map((v: GgufMetadataValue, i) => {
    const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : fail(`${key} must hold numbers`);
    if (!Number.isFinite(n)) fail(`${key}[${i}] is ${n}; the values must be finite`);
    return n;
  });
}

function optionalId(metadata: GgufMetadata, key: string, vocabSize: number): number | null {
  const value = metadata[key];
  if (value === undefined) return null;
  const id = typeof value === 'bigint' ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`${key} must be a token id, got ${String(value)}`);
  if (id === NO_TOKEN) return null;
  // llama.cpp only warns and falls back to a default; a model that names a token it lacks is damaged.
  if (id >= vocabSize) fail(`${key} ${id} is outside the vocabulary of ${vocabSize} tokens (ids 0..${vocabSize - 1})`);
  return id;
}

function optionalBool(metadata: GgufMetadata, key: string): boolean | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail(`${key} must be a boolean`);
  return value;
}

/** Merges of a SentencePiece BPE vocabulary: every split of a normal piece into two normal pieces, best score first. */
function mergesFromScores(tokens: string[], scores: number[], types: number[]): [string, string][] {
  const normal = new Map<string, number>();
  tokens.forEach((token, id) => {
    if (types[id] === GGUF_TOKEN_TYPE.normal && !normal.has(token)) normal.set(token, id);
  });
  const merges: { left: string; right: string; score: number; leftId: number; rightId: number }[] = [];
  for (const [token, id] of normal) {
    const chars = Array.from(token);
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      const leftId = normal.get(left);
      const rightId = normal.get(right);
      if (leftId !== undefined && rightId !== undefined) merges.push({ left, right, score: scores[id], leftId, rightId });
    }
  }
  merges.sort((a, b) => b.score - a.score || a.leftId - b.leftId || a.rightId - b.rightId);
  return merges.map((m) => [m.left, m.right]);
}

function parseMerges(merges: string[]): [string, string][] {
  return merges.map((merge) => {
    // The separator is the first space after the first character (llama.cpp's rule).
    const at = merge.indexOf(' ', 1);
    if (at < 0) fail(`merge ${JSON.stringify(merge)} is not "left right"`);
    return [merge.slice(0, at), merge.slice(at + 1)];
  });
}

function preTokenizerJson(pre: PreTokenizerName): Json {
  if (pre === 'gpt2') return { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: LLAMA3_SPLIT_REGEX }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
}

/** BOS/EOS around each sequence, as HF's TemplateProcessing writes it; null when neither is added. */
function postProcessorJson(bos: { id: number; token: string } | null, eos: { id: number; token: string } | null): Json | null {
  if (!bos && !eos) return null;
  const special = (t: { token: string }) => ({ SpecialToken: { id: t.token, type_id: 0 } });
  const sequence = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const wrap = (id: string, typeId: number) => [...(bos ? [special(bos)] : []), sequence(id, typeId), ...(eos ? [special(eos)] : [])];
  const specialTokens: Json = {};
  for (const t of [bos, eos]) if (t) specialTokens[t.token] = { id: t.token, ids: [t.id], tokens: [t.token] };
  return { type: 'TemplateProcessing', single: wrap('A', 0), pair: [...wrap('A', 0), ...wrap('B', 1)], special_tokens: specialTokens };
}

/**
 * tokenizer.json and tokenizer_config.json for the tokenizer stored in GGUF metadata, ready for
 * loadTokenizer.
 */
export function tokenizerJsonFromGguf(metadata: GgufMetadata): TokenizerFiles {
  const model = metadata['tokenizer.ggml.model'];
  if (model === undefined) fail('this GGUF has no tokenizer (no tokenizer.ggml.model)');
  if (model === 'no_vocab' || model === 'none') return storedTokenizerJson(metadata);
  if (model !== 'llama' && model !== 'gpt2') fail(`tokenizer model "${String(model)}" is not supported (supported: llama, gpt2, no_vocab)`);

  const tokens = stringList(metadata, 'tokenizer.ggml.tokens') ?? fail('missing tokenizer.ggml.tokens');
  const types = numberList(metadata, 'tokenizer.ggml.token_type', tokens.length) ?? tokens.map(() => GGUF_TOKEN_TYPE.normal);
  const id = (key: string) => optionalId(metadata, `tokenizer.ggml.${key}_token_id`, tokens.length);
  const unkId = id('unknown') ?? (model === 'llama' ? types.indexOf(GGUF_TOKEN_TYPE.unknown) : -1);
  const bosId = id('bos');
  const eosId = id('eos');
  const padId = id('padding');

  const vocab: Record<string, number> = {};
  tokens.forEach((token, i) => {
    if (!Object.hasOwn(vocab, token)) vocab[token] = i;
  });
  // Padding is left out: some files pad with an ordinary token, which must stay ordinary.
  const specialIds = new Set([bosId, eosId, unkId >= 0 ? unkId : null].filter((i) => i !== null));
  const addedTokens: Json[] = [];
  types.forEach((type, i) => {
    const special = type === GGUF_TOKEN_TYPE.control || type === GGUF_TOKEN_TYPE.unknown || specialIds.has(i);
    if (!special && type !== GGUF_TOKEN_TYPE.userDefined) return;
    addedTokens.push({ id: i, content: tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  });

  const mergeStrings = stringList(metadata, 'tokenizer.ggml.merges');
  let tokenizer: Json;
  if (model === 'llama') {
    const scores = numberList(metadata, 'tokenizer.ggml.scores', tokens.length);
    if (!mergeStrings && !scores) fail('a llama (SentencePiece) tokenizer needs tokenizer.ggml.scores');
    const merges = mergeStrings ? parseMerges(mergeStrings) : mergesFromScores(tokens, scores ?? [], types);
    const addPrefix = optionalBool(metadata, 'tokenizer.ggml.add_space_prefix') ?? true;
    tokenizer = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: {
        type: 'Sequence',
        normalizers: [
          ...(addPrefix ? [{ type: 'Prepend', prepend: SPACE_MARK }] : []),
          { type: 'Replace', pattern: { String: ' ' }, content: SPACE_MARK },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: SPACE_MARK }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(addPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: unkId >= 0 ? tokens[unkId] : null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges,
      },
    };
  } else {
    if (!mergeStrings) fail('a gpt2 (byte-level BPE) tokenizer needs tokenizer.ggml.merges');
    const pre = metadata['tokenizer.ggml.pre'] ?? 'gpt2';
    if (!PRE_TOKENIZERS.includes(pre as PreTokenizerName)) {
      fail(`pre-tokenizer "${String(pre)}" is not supported (supported: ${PRE_TOKENIZERS.join(', ')})`);
    }
    tokenizer = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: preTokenizerJson(pre as PreTokenizerName),
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: pre === 'llama-bpe',
        vocab,
        merges: parseMerges(mergeStrings),
      },
    };
  }

  const addBos = optionalBool(metadata, 'tokenizer.ggml.add_bos_token') ?? model === 'llama';
  const addEos = optionalBool(metadata, 'tokenizer.ggml.add_eos_token') ?? false;
  const entry = (i: number | null) => (i === null ? null : { id: i, token: tokens[i] });
  tokenizer.post_processor = postProcessorJson(addBos ? entry(bosId) : null, addEos ? entry(eosId) : null);
  return { tokenizer, config: tokenizerConfig(metadata, tokens, { bosId, eosId, padId, unkId: unkId >= 0 ? unkId : null }, addBos, addEos) };
}

function tokenizerConfig(
  metadata: GgufMetadata,
  tokens: string[],
  ids: { bosId: number | null; eosId: number | null; padId: number | null; unkId: number | null },
  addBos: boolean,
  addEos: boolean,
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: optionalBool(metadata, CLEAN_UP_KEY) ?? metadata['tokenizer.ggml.model'] !== 'llama',
  };
  const names = { bos_token: ids.bosId, eos_token: ids.eosId, pad_token: ids.padId, unk_token: ids.unkId };
  for (const [key, i] of Object.entries(names)) if (i !== null) config[key] = tokens[i];
  const template = metadata['tokenizer.chat_template'];
  if (typeof template === 'string') config.chat_template = template;
  return config;
}

/** A whole tokenizer.json kept in tokenizer.huggingface.json (our converter's 'no_vocab' form). */
function storedTokenizerJson(metadata: GgufMetadata): TokenizerFiles {
  const text = metadata['tokenizer.huggingface.json'];
  if (typeof text !== 'string') fail('tokenizer model no_vocab without tokenizer.huggingface.json: this GGUF has no usable tokenizer');
  let tokenizer: unknown;
  try {
    tokenizer = JSON.parse(text);
  } catch (error) {
    fail(`tokenizer.huggingface.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(tokenizer) || !isObject(tokenizer.model)) fail('tokenizer.huggingface.json is not a tokenizer.json');
  const idToToken = new Map<number, string>();
  const vocab = tokenizer.model.vocab;
  if (isObject(vocab)) for (const [token, i] of Object.entries(vocab)) if (typeof i === 'number') idToToken.set(i, token);
  if (Array.isArray(tokenizer.added_tokens)) {
    for (const t of tokenizer.added_tokens) if (isObject(t) && typeof t.id === 'number' && typeof t.content === 'string') idToToken.set(t.id, t.content);
  }
  const size = Math.max(-1, ...idToToken.keys()) + 1;
  const tokens = Array.from({ length: size }, (_, i) => idToToken.get(i) ?? '');
  const id = (key: string) => {
    const i = optionalId(metadata, `tokenizer.ggml.${key}_token_id`, size);
    return i !== null && idToToken.has(i) ? i : null;
  };
  const ids = { bosId: id('bos'), eosId: id('eos'), padId: id('padding'), unkId: id('unknown') };
  const addBos = optionalBool(metadata, 'tokenizer.ggml.add_bos_token') ?? false;
  const addEos = optionalBool(metadata, 'tokenizer.ggml.add_eos_token') ?? false;
  return { tokenizer, config: tokenizerConfig(metadata, tokens, ids, addBos, addEos) };
}

// ---------------------------------------------------------------------------------------------------------
// tokenizer.json -> GGUF metadata (the converter's direction)

function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return null;
}

function normalizeMerges(merges: unknown): [string, string][] {
  if (!Array.isArray(merges)) fail('model.merges must be a list');
  return merges.map((merge) => {
    if (Array.isArray(merge) && merge.length === 2 && merge.every((p) => typeof p === 'string')) return merge as [string, string];
    if (typeof merge === 'string') {
      const at = merge.indexOf(' ', 1);
      if (at > 0) return [merge.slice(0, at), merge.slice(at + 1)];
    }
    return fail(`merge ${JSON.stringify(merge)} is neither "left right" nor [left, right]`);
  });
}

const listOf = (node: unknown, key: string): unknown[] => (isObject(node) && Array.isArray(node[key]) ? node[key] : []);

/** The pre-tokenizers of a tokenizer.json node, flattening a Sequence. */
function preTokenizerSteps(node: unknown): Json[] {
  if (!isObject(node)) return [];
  if (node.type === 'Sequence') return listOf(node, 'pretokenizers').flatMap(preTokenizerSteps);
  return [node];
}

function detectPreTokenizer(tokenizer: Json): PreTokenizerName {
  const steps = preTokenizerSteps(tokenizer.pre_tokenizer);
  const byteLevel = steps.filter((s) => s.type === 'ByteLevel');
  const splits = steps.filter((s) => s.type === 'Split');
  const regexOf = (s: Json) => (isObject(s.pattern) ? s.pattern.Regex : undefined);
  if (steps.length === 1 && byteLevel.length === 1 && byteLevel[0].use_regex !== false) return 'gpt2';
  if (steps.length === 2 && byteLevel.length === 1 && splits.length === 1 && regexOf(splits[0]) === LLAMA3_SPLIT_REGEX) {
    return 'llama-bpe';
  }
  return fail('byte-level BPE with a pre-tokenizer other than GPT-2\'s or Llama 3\'s is not supported');
}

/** Whether a SentencePiece-style tokenizer.json adds "▁" before the text (Prepend normalizer or Metaspace). */
function addsSpacePrefix(tokenizer: Json): boolean {
  const normalizers = isObject(tokenizer.normalizer)
    ? tokenizer.normalizer.type === 'Sequence'
      ? listOf(tokenizer.normalizer, 'normalizers')
      : [tokenizer.normalizer]
    : [];
  if (normalizers.some((n) => isObject(n) && n.type === 'Prepend' && n.prepend === SPACE_MARK)) return true;
  return preTokenizerSteps(tokenizer.pre_tokenizer).some(
    (s) => s.type === 'Metaspace' && s.prepend_scheme !== 'never' && s.add_prefix_space !== false,
  );
}

/** Whether the post-processor puts `token` in front of a single sequence. */
function templateStartsWith(tokenizer: Json, token: string | null): boolean {
  const processors = isObject(tokenizer.post_processor)
    ? tokenizer.post_processor.type === 'Sequence'
      ? listOf(tokenizer.post_processor, 'processors')
      : [tokenizer.post_processor]
    : [];
  return processors.some((p) => {
    const first = listOf(p, 'single')[0];
    return isObject(p) && p.type === 'TemplateProcessing' && isObject(first) && isObject(first.SpecialToken) && first.SpecialToken.id === token;
  });
}

/**
 * The tokenizer.ggml.* metadata for an HF tokenizer, as llama.cpp's converter writes it: 'llama' for a BPE
 * model with byte fallback (SentencePiece style), 'gpt2' for byte-level BPE; any other tokenizer is stored
 * whole in tokenizer.huggingface.json under model 'no_vocab'. For 'llama', merges are written too (so the
 * HF merges come back exactly) and scores rank merged pieces by their first merge. With `vocabSize`, the
 * token list is padded with unused "[PADn]" tokens to the model's vocabulary size.
 */
export function ggufTokenizerMetadata(files: TokenizerFiles, opts: { vocabSize?: number } = {}): Record<string, GgufValue> {
  const tokenizer = files.tokenizer as Json;
  const config = files.config;
  if (!isObject(tokenizer) || !isObject(tokenizer.model)) fail('tokenizer.json has no model');
  const model = tokenizer.model;

  const idToToken = new Map<number, string>();
  const vocab = model.vocab;
  if (isObject(vocab)) {
    for (const [token, i] of Object.entries(vocab)) {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0) fail(`vocabulary id of ${JSON.stringify(token)} is not a token id`);
      idToToken.set(i, token);
    }
  }
  const added = new Map<number, { content: string; special: boolean }>();
  for (const t of listOf(tokenizer, 'added_tokens')) {
    if (!isObject(t) || typeof t.id !== 'number' || typeof t.content !== 'string') fail('added_tokens holds a malformed entry');
    added.set(t.id, { content: t.content, special: t.special === true });
    idToToken.set(t.id, t.content);
  }
  const tokenCount = Math.max(-1, ...idToToken.keys()) + 1;
  if (opts.vocabSize !== undefined && tokenCount > opts.vocabSize) {
    fail(`the tokenizer has ${tokenCount} tokens, more than the model's vocabulary of ${opts.vocabSize}`);
  }
  // llama.cpp wants one token per embedding row: pad with unused tokens, as its converter does.
  const size = opts.vocabSize ?? tokenCount;
  const tokenToId = new Map<string, number>();
  for (const [i, token] of idToToken) if (!tokenToId.has(token) || added.has(i)) tokenToId.set(token, i);
  const idOf = (value: unknown): number | null => {
    const content = tokenContent(value);
    return content === null ? null : tokenToId.get(content) ?? null;
  };
  const bosId = idOf(config.bos_token);
  const eosId = idOf(config.eos_token);
  const padId = idOf(config.pad_token);
  const unkId = idOf(config.unk_token) ?? idOf(model.unk_token);

  const metadata: Record<string, GgufValue> = {};
  const isSentencePiece = model.type === 'BPE' && model.byte_fallback === true;
  const isByteLevel = model.type === 'BPE' && !isSentencePiece && preTokenizerSteps(tokenizer.pre_tokenizer).some((s) => s.type === 'ByteLevel');

  if (isSentencePiece || isByteLevel) {
    const tokens: string[] = [];
    const types: number[] = [];
    for (let i = 0; i < size; i++) {
      const token = idToToken.get(i);
      const extra = added.get(i);
      if (token === undefined) {
        tokens.push(`[PAD${i}]`);
        types.push(GGUF_TOKEN_TYPE.unused);
      } else {
        tokens.push(token);
        if (i === unkId && isSentencePiece) types.push(GGUF_TOKEN_TYPE.unknown);
        else if (extra?.special) types.push(GGUF_TOKEN_TYPE.control);
        else if (extra) types.push(GGUF_TOKEN_TYPE.userDefined);
        else if (isSentencePiece && BYTE_TOKEN.test(token)) types.push(GGUF_TOKEN_TYPE.byte);
        else types.push(GGUF_TOKEN_TYPE.normal);
      }
    }
    const merges = normalizeMerges(model.merges);
    for (const [left, right] of merges) {
      if (left.includes(' ') || right.includes(' ')) fail(`merge [${JSON.stringify(left)}, ${JSON.stringify(right)}] holds a space, which GGUF merges cannot`);
    }
    metadata['tokenizer.ggml.model'] = isSentencePiece ? 'llama' : 'gpt2';
    metadata['tokenizer.ggml.pre'] = isSentencePiece ? 'default' : detectPreTokenizer(tokenizer);
    metadata['tokenizer.ggml.tokens'] = ggufValue.array('string', tokens);
    if (isSentencePiece) {
      // Score = -(rank of the first merge that makes the piece); other pieces rank below every merge.
      const rank = new Map<string, number>();
      merges.forEach(([left, right], r) => {
        if (!rank.has(left + right)) rank.set(left + right, r);
      });
      const scores = tokens.map((token, i) =>
        types[i] !== GGUF_TOKEN_TYPE.normal ? 0 : -(rank.get(token) ?? merges.length),
      );
      metadata['tokenizer.ggml.scores'] = ggufValue.array('float32', scores);
    }
    metadata['tokenizer.ggml.token_type'] = ggufValue.array('int32', types);
    metadata['tokenizer.ggml.merges'] = ggufValue.array('string', merges.map(([l, r]) => `${l} ${r}`));
    if (isSentencePiece) metadata['tokenizer.ggml.add_space_prefix'] = addsSpacePrefix(tokenizer);
  } else {
    metadata['tokenizer.ggml.model'] = 'no_vocab';
    metadata['tokenizer.huggingface.json'] = JSON.stringify(tokenizer);
  }

  const ids: [string, number | null][] = [
    ['bos', bosId],
    ['eos', eosId],
    ['unknown', unkId],
    ['padding', padId],
  ];
  for (const [key, i] of ids) if (i !== null) metadata[`tokenizer.ggml.${key}_token_id`] = ggufValue.u32(i);
  const addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : templateStartsWith(tokenizer, tokenContent(config.bos_token));
  metadata['tokenizer.ggml.add_bos_token'] = addBos;
  if (typeof config.add_eos_token === 'boolean') metadata['tokenizer.ggml.add_eos_token'] = config.add_eos_token;
  if (typeof config.chat_template === 'string') metadata['tokenizer.chat_template'] = config.chat_template;
  // transformers.js cleans up unless told not to.
  metadata[CLEAN_UP_KEY] = typeof config.clean_up_tokenization_spaces === 'boolean' ? config.clean_up_tokenization_spaces : true;
  return metadata;
}
