// The embedded default model: a small Llama-architecture model with a character-level tokenizer, shipped in
// public/models/ so the workbench works offline out of the box. `makeEmbeddedModel` writes its files
// (npm run make-embedded-model); the app loads them through the same code as any HF model folder.
import { DEFAULT_ALPHABET } from '../data/tokenizer';
import { type ModelSpec, baseWeights } from '../engine/spec';
import { mulberry32 } from '../util/random';
import { writeSafetensors } from './safetensors';

export const EMBEDDED_MODEL_ID = 'manyicl-tiny';
export const EMBEDDED_MODEL_PATH = `models/${EMBEDDED_MODEL_ID}`;
const SPECIAL_TOKENS = ['<pad>', '<s>', '</s>', '<unk>'];

export const EMBEDDED_SPEC: ModelSpec = {
  arch: 'llama', vocabSize: 64, hiddenSize: 128, intermediateSize: 352, numLayers: 4, numHeads: 4, numKvHeads: 2,
  headDim: 32, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, slidingWindow: null, tieWordEmbeddings: true,
  maxPositionEmbeddings: 1024, bosTokenId: 1, eosTokenId: 2,
};

/** A WordLevel tokenizer.json with one token per character (Split on every character, fused on decode). */
export function characterTokenizerJson(alphabet: string, vocabSize: number): object {
  const vocab: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = i));
  Array.from(alphabet).forEach((c, i) => (vocab[c] = SPECIAL_TOKENS.length + i));
  // Reserved ids pad the vocabulary to a multiple of 64, as GPUs like it.
  for (let id = Object.keys(vocab).length; id < vocabSize; id++) vocab[`<reserved_${id}>`] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: '[\\s\\S]' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/**
 * The files of a randomly initialised character-level Llama: HF-style initialisation (normal(0, 0.02), norms
 * at 1) from a fixed seed, the same bytes on every machine. By default the embedded model's shape.
 */
export function makeEmbeddedModel(seed = 20261122, spec: ModelSpec = EMBEDDED_SPEC): Map<string, Uint8Array> {
  const alphabetSize = Array.from(DEFAULT_ALPHABET).length + SPECIAL_TOKENS.length;
  if (alphabetSize > spec.vocabSize) throw new Error(`the alphabet needs ${alphabetSize} ids, the vocabulary has ${spec.vocabSize}`);
  const next = mulberry32(seed);
  const normal = (n: number, std: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return out;
  };
  const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd, vocabSize: V } = spec;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const { name, shape, role } of baseWeights(spec)) {
    const count = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { shape, data: role === 'norm' ? new Float32Array(count).fill(1) : normal(count, 0.02) };
  }
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: V, hidden_size: d, intermediate_size: f,
    num_hidden_layers: spec.numLayers, num_attention_heads: h, num_key_value_heads: kv, head_dim: hd, hidden_act: 'silu',
    rms_norm_eps: spec.rmsNormEps, rope_theta: spec.ropeTheta, max_position_embeddings: spec.maxPositionEmbeddings,
    tie_word_embeddings: spec.tieWordEmbeddings, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, torch_dtype: 'float32',
    attention_bias: false, mlp_bias: false,
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>',
    add_bos_token: false, add_eos_token: false, model_max_length: spec.maxPositionEmbeddings,
  };
  const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  return new Map([
    ['config.json', json(config)],
    ['tokenizer.json', json(characterTokenizerJson(DEFAULT_ALPHABET, V))],
    ['tokenizer_config.json', json(tokenizerConfig)],
    ['model.safetensors', writeSafetensors(tensors, { format: 'pt', note: `random initialisation, seed ${seed}` })],
  ]);
}
