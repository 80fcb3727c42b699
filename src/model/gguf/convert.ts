// HF Llama/Mistral model -> GGUF, laid out as llama.cpp's convert_hf_to_gguf.py does: GGUF tensor names,
// q_proj/k_proj rows permuted to llama.cpp's interleaved RoPE layout, no output.weight when the embeddings
// are tied, Llama 3 RoPE scaling as a rope_freqs.weight tensor, llama.* metadata keys.
//
// Two deliberate differences from llama.cpp: the Llama 3 factors use original_max_position_embeddings from
// the rope scaling parameters (llama.cpp reads a top-level key and falls back to 8192, which happens to be
// right for Meta's models only), and Mistral's sliding window is kept as llama.attention.sliding_window.
import { type BaseWeightInfo, type ModelSpec, baseWeights } from '../../engine/spec';
import type { TokenizerFiles } from '../tokenizer';
import { type GgmlType, blockSize, quantize } from '../../engine/ggml';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, llama3RopeFreqFactors, permuteQkRows } from './spec';
import { ggufTokenizerMetadata } from './tokenizer';
import { type GgufTensorEntry, type GgufTensorInput, type GgufValue, ggufValue, writeGguf } from './writer';

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

/** The llama.* metadata (and tokenizer, when given) of a converted model. */
export function ggufModelMetadata(opts: Pick<GgufFromHfOptions, 'spec' | 'config' | 'type' | 'tokenizer' | 'name'>): Record<string, GgufValue> {
  const { spec } = opts;
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

/** One tensor of a converted model: its GGUF name, type and shape, and where its values come from. */
export interface GgufModelTensor extends GgufTensorEntry {
  /** The HF weight it is converted from; absent for rope_freqs.weight. */
  hf?: Pick<BaseWeightInfo, 'name' | 'shape' | 'target'>;
  /** q_proj/k_proj: the heads over which llama.cpp permutes the rows. */
  qkHeads?: number;
  /** The values of a tensor with no HF counterpart (rope_freqs.weight). */
  values?: Float32Array;
}

/** The tensors of a model converted to `type`, in file order: the one description every GGUF model writer uses. */
export function ggufModelTensors(spec: ModelSpec, type: GgmlType): GgufModelTensor[] {
  const tensors: GgufModelTensor[] = [];
  const gguf = (hfName: string): string => ggufNameOfHfTensor(hfName) ?? fail(`no GGUF name for ${hfName}`);
  if (spec.ropeScaling?.type === 'llama3') {
    const values = llama3RopeFreqFactors(spec.ropeScaling, spec.headDim, spec.ropeTheta);
    tensors.push({ name: ROPE_FREQS_TENSOR, type: 'F32', shape: [values.length], values });
  }
  for (const { name, shape, role, target } of baseWeights(spec)) {
    const hf = { name, shape, ...(target ? { target } : {}) };
    if (role === 'norm') {
      tensors.push({ name: gguf(name), type: 'F32', shape: [shape[0]], hf });
    } else {
      const [rows, cols] = shape;
      const qkHeads = target === 'q_proj' ? spec.numHeads : target === 'k_proj' ? spec.numKvHeads : undefined;
      tensors.push({ name: gguf(name), type: matrixType(type, cols), shape: [cols, rows], hf, ...(qkHeads !== undefined ? { qkHeads } : {}) });
    }
  }
  return tensors;
}

/** A tensor's bytes in the file, from its values in HF layout (rows permuted here when it is q/k). */
export function encodeGgufModelTensor(tensor: GgufModelTensor, values: Float32Array): Uint8Array {
  const elements = tensor.shape.reduce((a, b) => a * b, 1);
  const what = tensor.hf?.name ?? tensor.name;
  if (values.length !== elements) fail(`${what} has ${values.length} values, expected ${elements}`);
  const [cols, rows] = tensor.shape;
  const laidOut = tensor.qkHeads !== undefined ? permuteQkRows(values, rows, cols, tensor.qkHeads) : values;
  return quantize(tensor.type, laidOut);
}

/** Converts an HF checkpoint to a GGUF file. */
export function ggufFromHfModel(opts: GgufFromHfOptions): Uint8Array {
  const tensors = ggufModelTensors(opts.spec, opts.type).map((t): GgufTensorInput => {
    const values = t.values ?? opts.tensors(t.hf!.name) ?? fail(`missing tensor ${t.hf!.name}`);
    return { name: t.name, type: t.type, shape: t.shape, data: encodeGgufModelTensor(t, values) };
  });
  return writeGguf({ version: opts.version ?? 3, metadata: ggufModelMetadata(opts), tensors });
}
