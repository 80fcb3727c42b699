// A model's tokenizer.json through @huggingface/transformers, behind the data layer's Tokenizer interface.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Tokenizer } from '../data/tokenizer';

export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizer: object;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
}

export function loadTokenizer(files: TokenizerFiles): Tokenizer {
  const hf = new PreTrainedTokenizer(files.tokenizer, files.config);
  const id = (value: number | undefined | null): number | null => (typeof value === 'number' ? value : null);
  const bosId = id(hf.bos_token_id);
  const eosId = id(hf.eos_token_id);
  const padId = id(hf.pad_token_id) ?? eosId;
  if (padId === null) throw new Error('tokenizer_config.json names neither a pad_token nor an eos_token');
  const vocab = hf.get_vocab();
  return {
    vocabSize: Math.max(...vocab.values()) + 1,
    bosId,
    eosId,
    padId,
    encode: (text) => hf.encode(text, { add_special_tokens: false }),
    decode: (ids) => hf.decode(ids, { skip_special_tokens: true }),
  };
}
