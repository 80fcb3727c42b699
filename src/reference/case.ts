// A reference case folder (one LoRA training step computed by HF transformers + PEFT), parsed and checked.
// Format: src/testdata/reference/README.md. The base model is either config.json + model.safetensors
// or a model.gguf alone (src/testdata/gguf/README.md).
import { type SafetensorsFile, type SafetensorsTensorInfo, readSafetensors, tensorsOf } from '../model/safetensors';
import { specFromHfConfig } from '../model/config';
import { type GgmlType, dequantize } from '../engine/ggml';
import { type GgufHeader, readGguf } from '../model/gguf/reader';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, hfNameOfGgufTensor, permutedQkHeads, specFromGguf, unpermuteQkRowBytes } from '../model/gguf/spec';
import { type LoraConfig, loraTensorShapes, parseAdapterConfig } from '../engine/peft';
import type { ModelSpec } from '../engine/spec';
import { Model, type ModelOptions, type TensorLookup } from '../engine/weights';
import type { Gpu } from '../gpu/gpu';
import { errorMessage } from '../util/errors';
import { checkFinite } from '../model/finite';
import { checkedModelWeights } from '../model/load';
import { checkGgufModel, checkGgufSplit } from '../model/validate';
import { tokenizerJsonFromGguf } from '../model/gguf/tokenizer';

export interface ReferenceBatch {
  /** [B][T] */
  inputIds: number[][];
  /** [B][T]: 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
  /** [B][T]: -100 where there is no loss; the label at t is predicted by the logits at t - 1. */
  labels: number[][];
  /** [B][k]: label positions [start, end) of each answer; the last is the final answer. */
  answerSpans: [number, number][][];
}

export interface ReferenceExpectedJson {
  loss_all_answers: number;
  loss_last_answer: number;
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  lora: { r: number; alpha: number; scaling: number; targets: string[] };
}

/** A base weight of a GGUF case as the file encodes it, with its rows in HF order. */
export interface GgufBaseTensor {
  type: GgmlType;
  /** HF order: [out, in] for a matrix (GGUF's shape reversed), [n] for a vector. */
  shape: number[];
  /**
   * The encoded bytes, row-major. q_proj/k_proj rows are un-permuted from llama.cpp's RoPE layout to HF order
   * (a copy); other tensors are a view into model.gguf.
   */
  bytes: Uint8Array;
}

/** The base weights of a GGUF case, by HF name. */
export interface GgufBaseModel {
  header: GgufHeader;
  has(hfName: string): boolean;
  /** Throws naming the tensor when absent. */
  tensorBytes(hfName: string): GgufBaseTensor;
}

export interface ReferenceCase {
  spec: ModelSpec;
  /** Where the base weights came from: config.json + model.safetensors, or model.gguf. */
  baseFormat: 'safetensors' | 'gguf';
  /** config.json as parsed; null for a GGUF case (its architecture is in gguf.header.metadata). */
  config: unknown;
  /**
   * The base weights by HF name, as float32. For a GGUF case, a stand-in for a float32 safetensors file: its
   * header lists every HF tensor with its HF shape (dtype F32, offsets into a virtual data section), and
   * tensor(name) is the exact dequantization of model.gguf, q_proj/k_proj rows in HF order.
   */
  weights: SafetensorsFile;
  /** model.gguf, for a GGUF case. */
  gguf?: GgufBaseModel;
  lora: { config: LoraConfig; tensors: SafetensorsFile };
  batch: ReferenceBatch;
  /** expected.json, and expected.safetensors: logits, token_loss, grad.<key>, after.<key>. */
  expected: { json: ReferenceExpectedJson; tensors: SafetensorsFile };
}

/** A case's base weights and adapter as the engine's tensor lookups, by HF / PEFT name. */
export function caseTensors(c: Pick<ReferenceCase, 'weights' | 'lora'>): { base: TensorLookup; lora: TensorLookup } {
  return { base: tensorsOf(c.weights), lora: tensorsOf(c.lora.tensors) };
}

/**
 * The case's base model on the GPU. A GGUF case keeps its linear layers in their GGML blocks: training steps and
 * generation run on the quantized weights.
 */
export function caseModel(gpu: Gpu, c: Pick<ReferenceCase, 'spec' | 'weights' | 'gguf'>, options: ModelOptions = {}): Model {
  const gguf = c.gguf;
  if (!gguf) return Model.fromTensors(gpu, c.spec, tensorsOf(c.weights), options);
  return Model.fromEncoded(gpu, c.spec, (name) => (gguf.has(name) ? { ...gguf.tensorBytes(name), dequantize: () => c.weights.tensor(name) } : undefined), options);
}

function fail(file: string, message: string): never {
  throw new Error(`reference case ${file}: ${message}`);
}

/**
 * Float32 views of a GGUF model's base weights, shaped like a float32 safetensors file so that code written
 * for model.safetensors reads them unchanged. Tensors are dequantized on each call (a fresh array).
 */
function dequantizedWeights(base: GgufBaseModel, hfNames: string[]): SafetensorsFile {
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let offset = 0;
  for (const name of hfNames) {
    const { shape } = base.tensorBytes(name);
    const byteLength = 4 * shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { name, dtype: 'F32', shape, begin: offset, end: offset + byteLength });
    offset += byteLength;
  }
  const info = (name: string): SafetensorsTensorInfo => tensors.get(name) ?? fail('model.gguf', `has no tensor "${name}"`);
  const tensor = (name: string): Float32Array => {
    const { shape } = info(name);
    const { type, bytes } = base.tensorBytes(name);
    return dequantize(type, bytes, shape.reduce((a, b) => a * b, 1));
  };
  return {
    header: { tensors, metadata: { format: 'gguf' }, dataOffset: 0 },
    has: (name) => tensors.has(name),
    info,
    tensor,
    tensorBytes: (name) => new Uint8Array(tensor(name).buffer),
  };
}

/**
 * Reads a GGUF base model (llama.cpp's layout, any supported type): the spec from its metadata (Llama 3
 * RoPE scaling from rope_freqs.weight, tied embeddings where output.weight is absent), and its weights by HF
 * name with q_proj/k_proj rows un-permuted. Used by loadReferenceCase and by the GGUF case generator, so both
 * see the same values. Throws with the GGUF reader's messages.
 */
export async function readGgufBaseModel(bytes: Uint8Array): Promise<{ spec: ModelSpec; weights: SafetensorsFile; gguf: GgufBaseModel }> {
  const file = await readGguf(bytes);
  const { tensorInfos } = file.header;
  checkGgufSplit([{ name: '', metadata: file.header.metadata }]);
  specFromGguf(file.header.metadata, tensorInfos.filter((t) => t.name !== ROPE_FREQS_TENSOR)); // sizes bounded before any tensor is read
  for (const { name, type } of tensorInfos) checkFinite(name, type, file.tensorBytes(name));
  const factors = file.has(ROPE_FREQS_TENSOR) ? file.tensor(ROPE_FREQS_TENSOR) : undefined;
  const spec = specFromGguf(file.header.metadata, tensorInfos, factors);
  checkGgufModel(spec, tensorInfos, ggufNameOfHfTensor);
  if ('tokenizer.ggml.model' in file.header.metadata) tokenizerJsonFromGguf(file.header.metadata); // refused here as the loaders refuse it

  const ggufNameOf = new Map<string, string>();
  for (const { name } of tensorInfos) {
    const hfName = hfNameOfGgufTensor(name);
    if (hfName !== null) ggufNameOf.set(hfName, name);
  }
  const gguf: GgufBaseModel = {
    header: file.header,
    has: (hfName) => ggufNameOf.has(hfName),
    tensorBytes: (hfName) => {
      const ggufName = ggufNameOf.get(hfName);
      if (ggufName === undefined) throw new Error(`GGUF: no tensor for ${hfName}`);
      const { type, shape: stored } = file.info(ggufName);
      const shape = [...stored].reverse();
      const heads = permutedQkHeads(spec, hfName);
      const raw = file.tensorBytes(ggufName);
      return { type, shape, bytes: heads === null ? raw : unpermuteQkRowBytes(raw, shape[0], heads) };
    },
  };
  return { spec, weights: dequantizedWeights(gguf, [...ggufNameOf.keys()]), gguf };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function finiteNumber(file: string, value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(file, `${name} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

/** A [B][T] matrix of integers, every row of length T (T = the first row's length when T is undefined). */
function intMatrix(value: unknown, name: string, rows: number | undefined, cols: number | undefined): number[][] {
  if (!Array.isArray(value) || value.length === 0) fail('batch.json', `${name} must be a non-empty [B][T] list`);
  const B = rows ?? value.length;
  if (value.length !== B) fail('batch.json', `${name} has ${value.length} rows, input_ids has ${B}`);
  const T = cols ?? (Array.isArray(value[0]) ? value[0].length : 0);
  value.forEach((row: unknown, b) => {
    if (!Array.isArray(row) || row.length !== T || !row.every(isInt)) {
      fail('batch.json', `${name}[${b}] must be a list of ${T} integers`);
    }
  });
  return value as number[][];
}

function parseBatch(json: unknown, spec: ModelSpec): ReferenceBatch {
  if (!isObject(json)) fail('batch.json', 'is not a JSON object');
  const inputIds = intMatrix(json.input_ids, 'input_ids', undefined, undefined);
  const [B, T] = [inputIds.length, inputIds[0].length];
  if (T === 0) fail('batch.json', 'sequences are empty');
  const attentionMask = intMatrix(json.attention_mask, 'attention_mask', B, T);
  const labels = intMatrix(json.labels, 'labels', B, T);
  inputIds.forEach((row, b) => {
    const bad = row.findIndex((id) => id < 0 || id >= spec.vocabSize);
    if (bad >= 0) fail('batch.json', `input_ids[${b}][${bad}] = ${row[bad]} is outside the vocabulary (${spec.vocabSize})`);
  });
  attentionMask.forEach((row, b) => {
    if (!row.every((m) => m === 0 || m === 1)) fail('batch.json', `attention_mask[${b}] must hold only 0 and 1`);
  });
  labels.forEach((row, b) => {
    const bad = row.findIndex((l) => l !== -100 && (l < 0 || l >= spec.vocabSize));
    if (bad >= 0) fail('batch.json', `labels[${b}][${bad}] = ${row[bad]} is neither -100 nor a token id`);
  });

  const spans = json.answer_spans;
  if (!Array.isArray(spans) || spans.length !== B) fail('batch.json', `answer_spans must have ${B} rows`);
  const answerSpans = spans.map((row: unknown, b): [number, number][] => {
    if (!Array.isArray(row) || row.length === 0) fail('batch.json', `answer_spans[${b}] must be a non-empty list`);
    return row.map((span: unknown, k): [number, number] => {
      if (!Array.isArray(span) || span.length !== 2 || !span.every(isInt) || span[0] < 1 || span[0] >= span[1] || span[1] > T) {
        fail('batch.json', `answer_spans[${b}][${k}] = ${JSON.stringify(span)} is not [start, end) with 1 <= start < end <= ${T}`);
      }
      return [span[0], span[1]];
    });
  });
  return { inputIds, attentionMask, labels, answerSpans };
}

function parseExpectedJson(json: unknown): ReferenceExpectedJson {
  const file = 'expected.json';
  if (!isObject(json)) fail(file, 'is not a JSON object');
  const { optimizer, lora } = json;
  if (!isObject(optimizer)) fail(file, 'optimizer is missing');
  if (!isObject(lora)) fail(file, 'lora is missing');
  const betas = optimizer.betas;
  if (!Array.isArray(betas) || betas.length !== 2) fail(file, `optimizer.betas must be [beta1, beta2]`);
  const targets = lora.targets;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) fail(file, 'lora.targets must be a list of names');
  return {
    loss_all_answers: finiteNumber(file, json.loss_all_answers, 'loss_all_answers'),
    loss_last_answer: finiteNumber(file, json.loss_last_answer, 'loss_last_answer'),
    optimizer: {
      lr: finiteNumber(file, optimizer.lr, 'optimizer.lr'),
      betas: [finiteNumber(file, betas[0], 'optimizer.betas[0]'), finiteNumber(file, betas[1], 'optimizer.betas[1]')],
      eps: finiteNumber(file, optimizer.eps, 'optimizer.eps'),
      weight_decay: finiteNumber(file, optimizer.weight_decay, 'optimizer.weight_decay'),
    },
    lora: {
      r: finiteNumber(file, lora.r, 'lora.r'),
      alpha: finiteNumber(file, lora.alpha, 'lora.alpha'),
      scaling: finiteNumber(file, lora.scaling, 'lora.scaling'),
      targets: targets as string[],
    },
  };
}

/** Throws unless `file` holds a tensor `key` of this shape. */
function checkShape(fileName: string, file: SafetensorsFile, key: string, shape: number[]): void {
  const info = file.header.tensors.get(key);
  if (!info) fail(fileName, `has no tensor "${key}"`);
  if (info.shape.join(',') !== shape.join(',')) {
    fail(fileName, `tensor "${key}" has shape [${info.shape}], expected [${shape}]`);
  }
}

const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"

function hasGgufMagic(bytes: Uint8Array): boolean {
  return GGUF_MAGIC.every((b, i) => bytes[i] === b);
}

/** An 8-byte little-endian header length that fits in the file, then the JSON header's "{". */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return headerLength >= 2n && headerLength <= BigInt(bytes.length - 8) && bytes[8] === 0x7b;
}

function isJsonObject(bytes: Uint8Array): boolean {
  try {
    return isObject(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return false;
  }
}

/**
 * Reads and checks a case folder. `read(name)` returns the bytes of one of its files (config.json,
 * model.safetensors or model.gguf, adapter_config.json, adapter_model.safetensors, batch.json, expected.json,
 * expected.safetensors); it may throw for a file the folder lacks.
 *
 * The base model is config.json + model.safetensors, or model.gguf alone. Files are told apart by their
 * contents, not only by whether `read` succeeds: a dev server may answer a missing file with its index.html.
 */
/** Readers of a case folder's files that name the file in their errors. */
function caseFiles(read: (name: string) => Promise<Uint8Array>) {
  const decoder = new TextDecoder();
  const readJson = async (name: string): Promise<unknown> => {
    const text = decoder.decode(await read(name));
    try {
      return JSON.parse(text);
    } catch (e) {
      return fail(name, `is not valid JSON (${(e as Error).message})`);
    }
  };
  const readTensors = async (name: string): Promise<SafetensorsFile> => parseTensors(name, await read(name));
  const parseTensors = (name: string, bytes: Uint8Array): SafetensorsFile => {
    try {
      return readSafetensors(bytes);
    } catch (e) {
      return fail(name, (e as Error).message);
    }
  };

  const readIfPresent = async (name: string): Promise<{ bytes: Uint8Array } | { error: unknown }> => {
    try {
      return { bytes: await read(name) };
    } catch (error) {
      return { error };
    }
  };

  return { readJson, readTensors, parseTensors, readIfPresent };
}

/** A case folder's base model (config.json + model.safetensors, or model.gguf), checked against its spec. */
export async function loadCaseBase(read: (name: string) => Promise<Uint8Array>): Promise<Pick<ReferenceCase, 'spec' | 'baseFormat' | 'config' | 'weights' | 'gguf'>> {
  const { readJson, readIfPresent } = caseFiles(read);
  let spec: ModelSpec;
  let config: unknown = null;
  let weights: SafetensorsFile;
  let gguf: GgufBaseModel | undefined;
  const ggufFile = await readIfPresent('model.gguf');
  if ('bytes' in ggufFile && hasGgufMagic(ggufFile.bytes)) {
    const safetensors = await readIfPresent('model.safetensors');
    if ('bytes' in safetensors && looksLikeSafetensors(safetensors.bytes)) {
      fail('model.gguf', 'the folder also has model.safetensors; a case has one base model, remove one of them');
    }
    const configFile = await readIfPresent('config.json');
    if ('bytes' in configFile && isJsonObject(configFile.bytes)) {
      fail('config.json', 'a GGUF case (model.gguf) takes its architecture from the GGUF metadata; remove config.json');
    }
    try {
      ({ spec, weights, gguf } = await readGgufBaseModel(ggufFile.bytes));
    } catch (e) {
      return fail('model.gguf', (e as Error).message);
    }
  } else {
    const safetensors = await readIfPresent('model.safetensors');
    if ('error' in safetensors) {
      if ('bytes' in ggufFile) {
        // Only a model.gguf that is not one: its reader says why.
        await readGguf(ggufFile.bytes).catch((e: Error) => fail('model.gguf', e.message));
      }
      throw new Error(
        'reference case: the folder has neither model.safetensors (with config.json) nor model.gguf ' +
          `(model.safetensors: ${errorMessage(safetensors.error)}; model.gguf: ${'error' in ggufFile ? errorMessage(ggufFile.error) : 'not a GGUF file'})`,
      );
    }
    config = await readJson('config.json');
    spec = specFromHfConfig(config);
    try {
      weights = checkedModelWeights(spec, safetensors.bytes, 'model.safetensors');
    } catch (e) {
      throw new Error(`reference case ${(e as Error).message}`);
    }
  }

  return { spec, baseFormat: gguf ? 'gguf' : 'safetensors', config, weights, ...(gguf ? { gguf } : {}) };
}

/** A case folder's LoRA adapter (adapter_config.json + adapter_model.safetensors), every tensor checked. */
export async function loadCaseAdapter(read: (name: string) => Promise<Uint8Array>, spec: ModelSpec): Promise<ReferenceCase['lora']> {
  const { readJson, readTensors } = caseFiles(read);
  const loraConfig = parseAdapterConfig(await readJson('adapter_config.json'));
  const loraTensors = await readTensors('adapter_model.safetensors');
  const shapes = loraTensorShapes(spec, loraConfig);
  for (const { key, shape } of shapes) checkShape('adapter_model.safetensors', loraTensors, key, shape);
  if (loraTensors.header.tensors.size !== shapes.length) {
    const known = new Set(shapes.map((s) => s.key));
    const extra = [...loraTensors.header.tensors.keys()].filter((k) => !known.has(k));
    fail('adapter_model.safetensors', `has tensors the adapter config does not describe: ${extra.slice(0, 3).join(', ')}`);
  }
  return { config: loraConfig, tensors: loraTensors };
}

export async function loadReferenceCase(read: (name: string) => Promise<Uint8Array>): Promise<ReferenceCase> {
  const { readJson, readTensors } = caseFiles(read);
  const base = await loadCaseBase(read);
  const { spec } = base;
  const lora = await loadCaseAdapter(read, spec);
  const batch = parseBatch(await readJson('batch.json'), spec);
  const expectedJson = parseExpectedJson(await readJson('expected.json'));
  const expectedTensors = await readTensors('expected.safetensors');

  if (expectedJson.lora.r !== lora.config.rank || expectedJson.lora.alpha !== lora.config.alpha) {
    fail('expected.json', `lora r/alpha ${expectedJson.lora.r}/${expectedJson.lora.alpha} differ from adapter_config.json`);
  }
  for (const { key, shape } of loraTensorShapes(spec, lora.config)) {
    checkShape('expected.safetensors', expectedTensors, `grad.${key}`, shape);
    checkShape('expected.safetensors', expectedTensors, `after.${key}`, shape);
  }
  const [B, T] = [batch.inputIds.length, batch.inputIds[0].length];
  checkShape('expected.safetensors', expectedTensors, 'logits', [B, T, spec.vocabSize]);
  checkShape('expected.safetensors', expectedTensors, 'token_loss', [B, T]);

  return {
    ...base,
    lora,
    batch,
    expected: { json: expectedJson, tensors: expectedTensors },
  };
}
