// The base model with a LoRA adapter merged in (W + scaling B A for every adapted projection, rsLoRA's scaling
// included; every other weight copied), as an HF folder of safetensors or as one GGUF file. Both stream: the
// headers come from the shapes first, then each weight is fetched, merged, encoded, written and dropped, so the
// model never sits whole in the JS heap.
import { type GgmlType, quantize } from '../engine/ggml';
import { type BaseWeightInfo, type ModelSpec, baseWeights } from '../engine/spec';
import { encodeGgufModelTensor, ggufModelMetadata, ggufModelTensors } from '../model/gguf/convert';
import { writeGgufStreamed } from '../model/gguf/writer';
import { safetensorsLayout } from '../model/safetensors';
import { type HostAdapter, adapterPair, adapterScaling, mergedWeight } from './adapter';
import { type BaseSource, type TorchDtype, writeModelFiles } from './base';
import { type FileSink, type FolderSink, writeFile } from './sink';

/** Called after each tensor written. */
export type ExportProgress = (done: number, total: number) => void;

function fail(message: string): never {
  throw new Error(`merged export: ${message}`);
}

const SHAPE_KEYS = ['numLayers', 'hiddenSize', 'intermediateSize', 'numHeads', 'numKvHeads', 'headDim'] as const;

function checkAdapterFits(spec: ModelSpec, adapter: HostAdapter | null): void {
  if (!adapter) return;
  for (const key of SHAPE_KEYS) {
    if (adapter.spec[key] !== spec[key]) fail(`the adapter was made for ${key} ${adapter.spec[key]}, the base model has ${spec[key]}`);
  }
}

/** A base weight in HF layout, f32, with the adapter merged in when it adapts that weight. */
export async function mergedTensor(base: BaseSource, adapter: HostAdapter | null, weight: Pick<BaseWeightInfo, 'name' | 'shape' | 'target'>): Promise<Float32Array> {
  const values = await base.tensor(weight.name);
  const elements = weight.shape.reduce((a, b) => a * b, 1);
  if (values.length !== elements) fail(`${weight.name} has ${values.length} values, expected ${elements} (${weight.shape.join(' x ')})`);
  if (!adapter || !weight.target) return values;
  const layer = Number(/^model\.layers\.(\d+)\./.exec(weight.name)?.[1]);
  const pair = adapterPair(adapter, layer, weight.target);
  if (!pair) return values;
  const [out, inFeatures] = weight.shape;
  return mergedWeight(values, out, inFeatures, pair, adapter.config.rank, adapterScaling(adapter));
}

// ---------------------------------------------------------------------------------------------------------
// Safetensors

export const MERGED_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type MergedDtype = (typeof MERGED_DTYPES)[number];

const TORCH_DTYPE: Record<MergedDtype, TorchDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const DTYPE_BYTES: Record<MergedDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** transformers' max_shard_size "2GB": decimal gigabytes, as its convert_file_size_to_int reads "GB". */
export const DEFAULT_SHARD_BYTES = 2_000_000_000;

export interface MergedSafetensorsOptions {
  dtype: MergedDtype;
  /** Largest data size of one file before the weights are split into shards. Default DEFAULT_SHARD_BYTES. */
  shardBytes?: number;
  onProgress?: ExportProgress;
}

export interface MergedSafetensorsResult {
  /** The weight files, in order. */
  files: string[];
  /** Bytes of tensor data in all of them (the index's total_size). */
  totalSize: number;
}

/**
 * Weights split as huggingface_hub's split_state_dict_into_shards does: in checkpoint order, a new shard when
 * the next tensor would take the current one past `shardBytes`; a tensor larger than that gets a shard alone.
 */
export function shardWeights<T extends { bytes: number }>(weights: T[], shardBytes: number): T[][] {
  const shards: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const w of weights) {
    if (current.length > 0 && size + w.bytes > shardBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(w);
    size += w.bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

const shardName = (i: number, n: number) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

/**
 * The merged model as an HF folder: model.safetensors (or model-0000i-of-0000N.safetensors shards and
 * model.safetensors.index.json when the weights take more than shardBytes), config.json (with the dtype),
 * generation_config.json, and the tokenizer files when the base has them. No lm_head.weight when tied.
 */
export async function exportMergedSafetensors(
  base: BaseSource,
  adapter: HostAdapter | null,
  folder: FolderSink,
  opts: MergedSafetensorsOptions,
): Promise<MergedSafetensorsResult> {
  const { spec } = base;
  checkAdapterFits(spec, adapter);
  const { dtype } = opts;
  if (!MERGED_DTYPES.includes(dtype)) fail(`dtype must be one of ${MERGED_DTYPES.join(', ')}, got ${String(dtype)}`);
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(shardBytes > 0)) fail(`shardBytes must be positive, got ${shardBytes}`);
  const weights = baseWeights(spec).map((w) => ({ ...w, bytes: w.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype] }));
  const byName = new Map(weights.map((w) => [w.name, w]));
  const shards = shardWeights(weights, shardBytes);
  const files = shards.length === 1 ? ['model.safetensors'] : shards.map((_, i) => shardName(i, shards.length));
  const totalSize = weights.reduce((n, w) => n + w.bytes, 0);

  let done = 0;
  for (let s = 0; s < shards.length; s++) {
    const layout = safetensorsLayout(
      shards[s].map(({ name, shape }) => ({ name, dtype, shape })),
      { format: 'pt' },
    );
    const file = await folder.file(files[s]);
    await file.write(layout.header);
    for (const info of layout.tensors) {
      const values = await mergedTensor(base, adapter, byName.get(info.name)!);
      // F32: the merged array's own bytes (safetensors is little-endian, as every host this runs on).
      await file.write(dtype === 'F32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(dtype, values));
      opts.onProgress?.(++done, weights.length);
    }
    await file.close();
  }

  if (shards.length > 1) {
    const weightMap: Record<string, string> = {};
    for (const [s, shard] of shards.entries()) for (const w of shard) weightMap[w.name] = files[s];
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFile(folder, 'model.safetensors.index.json', `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`);
  }
  await writeModelFiles(base, folder, TORCH_DTYPE[dtype]);
  return { files, totalSize };
}

// ---------------------------------------------------------------------------------------------------------
// GGUF

export const MERGED_GGUF_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const satisfies readonly GgmlType[];
export type MergedGgufType = (typeof MERGED_GGUF_TYPES)[number];

export interface MergedGgufOptions {
  /** Type of the matrices; rows that are not whole blocks of it fall back as the converter does (matrixType). */
  type: MergedGgufType;
  /** general.name; default the base's repo, else its config's _name_or_path. */
  name?: string;
  onProgress?: ExportProgress;
}

/**
 * The merged model as one GGUF file, laid out as ggufFromHfModel lays out a checkpoint (same metadata, names,
 * q/k permutation and fallback types; the tokenizer from base.tokenizer), written to `file` tensor by tensor.
 * Closes `file`.
 */
export async function exportMergedGguf(base: BaseSource, adapter: HostAdapter | null, file: FileSink, opts: MergedGgufOptions): Promise<void> {
  const { spec } = base;
  if (!MERGED_GGUF_TYPES.includes(opts.type)) fail(`GGUF type must be one of ${MERGED_GGUF_TYPES.join(', ')}, got ${String(opts.type)}`);
  checkAdapterFits(spec, adapter);
  const tensors = ggufModelTensors(spec, opts.type);
  const name = opts.name ?? base.repo;
  const metadata = ggufModelMetadata({ spec, config: base.config, type: opts.type, tokenizer: base.tokenizer, ...(name ? { name } : {}) });
  await writeGgufStreamed(
    { metadata, tensors: tensors.map(({ name, type, shape }) => ({ name, type, shape })) },
    async (_, i) => {
      const t = tensors[i];
      return encodeGgufModelTensor(t, t.values ?? (await mergedTensor(base, adapter, t.hf!)));
    },
    (bytes) => file.write(bytes),
    (i) => opts.onProgress?.(i + 1, tensors.length),
  );
  await file.close();
}
