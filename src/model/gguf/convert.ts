// HF Llama/Mistral model -> GGUF, laid out as llama.cpp's convert_hf_to_gguf.py does: GGUF tensor names,
// q_proj/k_proj rows permuted to llama.cpp's interleaved RoPE layout, no output.weight when the embeddings
// are tied, Llama 3 RoPE scaling as a rope_freqs.weight tensor, llama.* metadata keys.
//
// Two deliberate differences from llama.cpp: the Llama 3 factors use original_max_position_embeddings from
// the rope scaling parameters (llama.cpp reads a top-level key and falls back to 8192, which happens to be
// right for Meta's models only), and Mistral's sliding window is kept as llama.attention.sliding_window.
import { type ModelSpec, baseWeights } from '../../engine/spec';
import type { TokenizerFiles } from '../tokenizer';
import { type GgmlType, blockSize, quantize } from '../../engine/ggml';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, llama3RopeFreqFactors, permuteQkRows } from './spec';
import { ggufTokenizerMetadata } from './tokenizer';
import { type GgufTensorInput, type GgufValue, ggufValue, writeGguf } from './writer';

export interface GgufFromHfOptions {
  spec: ModelSpec;
  /** config.json, for the model's name (general.name). */
  config?: Record<string, unknown>;
  /** A float32 tensor by HF name (row-major, HF shape), or undefined when the checkpoint lacks it. */
  tensors: (hfName: string) => Float32Array | undefined;
  /**
   * Type of the 2-D weights (embeddings, projections, LM head); norms and rope_freqs stay F32. A matrix whose
   * rows are not a whole number of `type` blocks falls back to Q8_0, then F16, as llama.cpp falls back.
   */
  type: GgmlType;
  tokenizer?: TokenizerFiles;
  name?: string;
  version?: 2 | 3;
}

/** general.file_type (llama.cpp's LlamaFileType) for the type most tensors have. */
const FILE_TYPE: Record<GgmlType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 7,
  Q4_K: 15, // MOSTLY_Q4_K_M
  Q5_K: 17, // MOSTLY_Q5_K_M
  Q6_K: 18,
  BF16: 32,
};
const QUANTIZATION_VERSION = 2;

function fail(message: string): never {
  throw new Error(`GGUF converter: ${message}`);
}

/** The type a matrix with rows of `rowLength` values is stored in. */
export function matrixType(type: GgmlType, rowLength: number): GgmlType {
  for (const candidate of [type, 'Q8_0', 'F16'] as const) if (rowLength % blockSize(candidate) === 0) return candidate;
  return 'F32';
}

function modelMetadata(spec: ModelSpec, opts: GgufFromHfOptions): Record<string, GgufValue> {
  const { u32, f32 } = ggufValue;
  const name = opts.name ?? (typeof opts.config?._name_or_path === 'string' ? opts.config._name_or_path : undefined);
  const metadata: Record<string, GgufValue> = {
    'general.architecture': 'llama',
    ...(name ? { 'general.name': name } : {}),
    'general.file_type': u32(FILE_TYPE[opts.type]),
    'general.quantization_version': u32(QUANTIZATION_VERSION),
    'llama.vocab_size': u32(spec.vocabSize),
    'llama.context_length': u32(spec.maxPositionEmbeddings),
    'llama.embedding_length': u32(spec.hiddenSize),
    'llama.block_count': u32(spec.numLayers),
    'llama.feed_forward_length': u32(spec.intermediateSize),
    'llama.rope.dimension_count': u32(spec.headDim),
    'llama.attention.head_count': u32(spec.numHeads),
    'llama.attention.head_count_kv': u32(spec.numKvHeads),
    'llama.attention.key_length': u32(spec.headDim),
    'llama.attention.value_length': u32(spec.headDim),
    'llama.attention.layer_norm_rms_epsilon': f32(spec.rmsNormEps),
    'llama.rope.freq_base': f32(spec.ropeTheta),
  };
  if (spec.ropeScaling?.type === 'linear') {
    metadata['llama.rope.scaling.type'] = 'linear';
    metadata['llama.rope.scaling.factor'] = f32(spec.ropeScaling.factor);
  }
  if (spec.slidingWindow !== null) metadata['llama.attention.sliding_window'] = u32(spec.slidingWindow);
  if (opts.tokenizer) {
    Object.assign(metadata, ggufTokenizerMetadata(opts.tokenizer, { vocabSize: spec.vocabSize }));
  } else {
    if (spec.bosTokenId !== null) metadata['tokenizer.ggml.bos_token_id'] = u32(spec.bosTokenId);
    if (spec.eosTokenId !== null) metadata['tokenizer.ggml.eos_token_id'] = u32(spec.eosTokenId);
  }
  return metadata;
}

/** Converts an HF checkpoint to a GGUF file. */
export function ggufFromHfModel(opts: GgufFromHfOptions): Uint8Array {
  const { spec } = opts;
  const { numHeads: h, numKvHeads: kv, headDim: hd } = spec;
  const tensors: GgufTensorInput[] = [];

  const read = (hfName: string, elements: number): Float32Array => {
    const values = opts.tensors(hfName) ?? fail(`missing tensor ${hfName}`);
    if (values.length !== elements) fail(`${hfName} has ${values.length} values, expected ${elements}`);
    return values;
  };
  const gguf = (hfName: string): string => ggufNameOfHfTensor(hfName) ?? fail(`no GGUF name for ${hfName}`);
  const vector = (hfName: string, length: number) =>
    tensors.push({ name: gguf(hfName), type: 'F32', shape: [length], data: quantize('F32', read(hfName, length)) });
  /** An HF [rows, cols] weight: GGUF shape [cols, rows]; q/k rows permuted over `qkHeads` heads. */
  const matrix = (hfName: string, rows: number, cols: number, qkHeads?: number) => {
    let values = read(hfName, rows * cols);
    if (qkHeads !== undefined) values = permuteQkRows(values, rows, cols, qkHeads);
    const type = matrixType(opts.type, cols);
    tensors.push({ name: gguf(hfName), type, shape: [cols, rows], data: quantize(type, values) });
  };

  if (spec.ropeScaling?.type === 'llama3') {
    const factors = llama3RopeFreqFactors(spec.ropeScaling, hd, spec.ropeTheta);
    tensors.push({ name: ROPE_FREQS_TENSOR, type: 'F32', shape: [factors.length], data: quantize('F32', factors) });
  }
  for (const { name, shape, role, target } of baseWeights(spec)) {
    if (role === 'norm') vector(name, shape[0]);
    else matrix(name, shape[0], shape[1], target === 'q_proj' ? h : target === 'k_proj' ? kv : undefined);
  }

  return writeGguf({ version: opts.version ?? 3, metadata: modelMetadata(spec, opts), tensors });
}
