// node-llama-cpp (llama.cpp's prebuilt CPU binary) for the tests that compare our GGUF files and logits with
// llama.cpp's: loading it, a tokenizer it accepts, logits of every position, and the comparison. Node only.
import { type Llama, LlamaLogLevel, LlamaVocabularyType, type Token, getLlama } from 'node-llama-cpp';
import { errorMessage } from '../../util/errors';
import type { TokenizerFiles } from '../tokenizer';

export const LLAMA_CPP_THREADS = 2;
/** Context (and batch) size of every llama.cpp run: the sequences compared are shorter. */
export const LLAMA_CPP_CONTEXT = 64;

/**
 * A SentencePiece-style tokenizer.json (BPE with byte fallback): <unk> <s> </s>, the 256 byte tokens, "▁" and
 * the lowercase letters. ggufTokenizerMetadata pads it with unused tokens to the model's vocabulary.
 */
export function sentencePieceTokenizer(): TokenizerFiles {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const c of ['▁', ...'abcdefghijklmnopqrstuvwxyz']) vocab[c] = Object.keys(vocab).length;
  const special = (id: number, content: string) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  return {
    tokenizer: {
      version: '1.0',
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '▁' },
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        ],
      },
      pre_tokenizer: null,
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', byte_fallback: true, vocab, merges: [] },
    },
    config: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false },
  };
}

export interface LlamaCppRun {
  /** [T, V] */
  logits: Float32Array;
  vocabSize: number;
  trainContextSize: number;
  embeddingSize: number;
  layers: number;
  vocabularyType: LlamaVocabularyType;
  bos: number | null;
  eos: number | null;
  /** ggml type id of each tensor, as node-llama-cpp's GGUF reader sees it. */
  tensorTypes: Map<string, number>;
}

export interface LlamaCppRunOptions {
  /** The model's vocabulary size: the width of the logits. */
  vocabSize: number;
  /** GGUF LoRA adapters applied at scale 1. */
  loras?: string[];
}

/** Loads the file on the CPU and evaluates `tokens` in one sequence, keeping the raw logits of every position. */
export async function llamaCppLogits(llama: Llama, modelPath: string, tokens: number[], opts: LlamaCppRunOptions): Promise<LlamaCppRun> {
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  try {
    // F32 KV cache, no flash attention: llama.cpp's default F16 cache would add its own rounding to the comparison.
    const context = await model.createContext({
      contextSize: LLAMA_CPP_CONTEXT,
      batchSize: LLAMA_CPP_CONTEXT,
      threads: LLAMA_CPP_THREADS,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      ...(opts.loras ? { lora: { adapters: opts.loras.map((filePath) => ({ filePath, scale: 1 })) } } : {}),
    });
    const V = opts.vocabSize;
    const logits = new Float32Array(tokens.length * V).fill(NaN);
    let vocabSize = 0;
    try {
      const results = await context.getSequence().controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { logits: true } }]));
      results.forEach((result, t) => {
        const row = result?.next.logits;
        if (!row) throw new Error(`llama.cpp returned no logits at position ${t}`);
        vocabSize = row.size;
        for (const [token, logit] of row) {
          if (token < 0 || token >= V) throw new Error(`llama.cpp returned a logit for token ${token}, outside the vocabulary (${V})`);
          logits[t * V + token] = logit;
        }
      });
    } finally {
      await context.dispose();
    }
    return {
      logits,
      vocabSize,
      trainContextSize: model.trainContextSize,
      embeddingSize: model.embeddingVectorSize,
      layers: model.fileInsights.totalLayers - 1, // counts the output layer too
      vocabularyType: model.vocabularyType,
      bos: model.tokens.bos,
      eos: model.tokens.eos,
      tensorTypes: new Map((model.fileInfo.tensorInfo ?? []).map((info) => [info.name, Number(info.ggmlType)])),
    };
  } finally {
    await model.dispose();
  }
}

function argmax(values: Float32Array, start: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[start + i] > values[start + best]) best = i;
  return best;
}

export interface Comparison {
  maxAbsError: number;
  relError: number;
  /** Positions where both pick the same top token. */
  argmaxAgree: number;
  /** Positions where llama.cpp's top two logits are closer than 2 * maxAbsError: there the top token may differ. */
  nearTies: number;
}

export function compare(ours: Float32Array, theirs: Float32Array, T: number, V: number): Comparison {
  let maxAbsError = 0;
  let scale = 0;
  for (let i = 0; i < T * V; i++) {
    const d = Math.abs(ours[i] - theirs[i]);
    maxAbsError = Number.isNaN(d) ? Infinity : Math.max(maxAbsError, d);
    scale = Math.max(scale, Math.abs(theirs[i]));
  }
  let argmaxAgree = 0;
  let nearTies = 0;
  for (let t = 0; t < T; t++) {
    const top = argmax(theirs, t * V, V);
    if (argmax(ours, t * V, V) === top) argmaxAgree++;
    let second = -Infinity;
    for (let v = 0; v < V; v++) if (v !== top) second = Math.max(second, theirs[t * V + v]);
    if (theirs[t * V + top] - second < 2 * maxAbsError) nearTies++;
  }
  return { maxAbsError, relError: maxAbsError / scale, argmaxAgree, nearTies };
}

/** node-llama-cpp's prebuilt binary, or why it cannot load here. */
export async function loadLlamaCpp(): Promise<Llama | string> {
  try {
    return await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: LLAMA_CPP_THREADS });
  } catch (error) {
    return errorMessage(error);
  }
}

// The project installs only the linux-x64 CPU build (package.json overrides): elsewhere there is nothing to load.
export const LLAMA_CPP_PREBUILT = process.platform === 'linux' && process.arch === 'x64';
