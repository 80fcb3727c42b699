// Loads a model from the browser's model cache straight into GPU buffers: the weight files stream through the
// TensorUploader chunk by chunk (the JS heap holds a chunk and a header at a time, never a tensor), then the
// engine's Model is built on those buffers. GGUF (one file or split parts) and safetensors (one file or shards,
// with config.json). On any error every GPU buffer made so far is destroyed, and the message names the file.
import type { Tokenizer } from '../data/tokenizer';
import { GpuError, GpuOutOfMemoryError, type Gpu } from '../gpu/gpu';
import { type GpuTensor, Model } from '../engine/weights';
import { type QuantizeOnLoad, quantizeLinear, unpermuteQk } from '../engine/load';
import { type ModelSpec, baseWeightShapes, isLinearWeight } from '../engine/spec';
import { specFromHfConfig } from './config';
import { type GgmlType, dequantize } from '../engine/ggml';
import { type GgufHeader, type GgufMetadata, type GgufRangeSource, type GgufTensorInfo, parseGgufHeader } from './gguf/reader';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, hfNameOfGgufTensor, permutedQkHeads, specFromGguf } from './gguf/spec';
import { tokenizerJsonFromGguf } from './gguf/tokenizer';
import { type SafetensorsHeader, headerByteLength, parseSafetensorsHeader } from './safetensors';
import { type ModelCache, modelCache } from './sources/cache';
import type { CachedModel } from './sources/library';
import { type TensorPlacement, TensorUploader, type UploadGpu } from './sources/to-gpu';
import { type TokenizerFiles, loadTokenizer } from './tokenizer';
import { errorMessage } from '../util/errors';
import { TensorFileError, checkSafetensorsModel } from './validate';

export interface LoadCachedOptions {
  /** Default: the app's cache. */
  cache?: ModelCache;
  /** Quantize F32/F16/BF16 linear weights on the GPU (rows that are not whole blocks of 32 stay as they are). */
  quantize?: QuantizeOnLoad;
  /** Bytes of the weight files streamed so far, of all of them. */
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface LoadedModel {
  spec: ModelSpec;
  tokenizer: Tokenizer;
  model: Model;
}

/** A problem with one of the model's files (or, for `file` lists, with the files together). */
export class ModelLoadError extends Error {
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModelLoadError';
  }
}

const isAbort = (error: unknown) => (error as { name?: unknown } | null)?.name === 'AbortError';

/** Loads `manifest`'s files from the cache onto the GPU and builds the Model, its spec and its tokenizer. */
export async function loadCachedModel(gpu: Gpu, manifest: CachedModel, options: LoadCachedOptions = {}): Promise<LoadedModel> {
  const load = new Loading(gpu, manifest, options);
  try {
    load.checkAborted();
    if (manifest.weights.length === 0) throw new ModelLoadError(`${manifest.name}: the manifest lists no weight files`, manifest.name);
    const sizes = await Promise.all(manifest.weights.map((key) => load.inFile(key, () => load.fileSize(key))));
    load.total = sizes.reduce((a, b) => a + b, 0);
    const files = manifest.weights.map((key, i) => ({ key, size: sizes[i] }));
    return manifest.format === 'gguf' ? await loadGguf(load, files) : await loadSafetensors(load, files);
  } catch (error) {
    load.releaseAll();
    throw error;
  }
}

/**
 * The tokenizer of a cached model without its weights: the cached tokenizer.json, or one built from the GGUF
 * header's tokenizer.ggml.* metadata (for the context preview, before the worker loads the model).
 */
export async function loadCachedTokenizer(manifest: CachedModel, options: { cache?: ModelCache } = {}): Promise<Tokenizer> {
  const load = new Loading(null, manifest, options);
  if (manifest.tokenizer) {
    const key = manifest.tokenizer;
    return load.inFile(key, async () => loadTokenizer(await cachedTokenizerFiles(load, key)));
  }
  const [first] = manifest.weights;
  if (manifest.format !== 'gguf' || !first) throw new ModelLoadError(`${manifest.name}: the model has no tokenizer.json`, manifest.name);
  return load.inFile(first, async () => {
    const header = await readGgufHeader(load, { key: first, size: await load.fileSize(first) });
    return loadTokenizer(tokenizerJsonFromGguf(header.metadata));
  });
}

interface WeightFile {
  key: string;
  size: number;
}

/** The state of one load: the GPU buffers made so far (all freed on failure), progress, cancellation. */
class Loading {
  readonly cache: ModelCache;
  /** Buffers this load made and still holds; the Model takes them over at the end. */
  private readonly buffers = new Set<GPUBuffer>();
  total = 0;
  private done = 0;
  private reported = -1;

  /** gpu is null when only the tokenizer is read (on the page, for the context preview). */
  constructor(
    private readonly device: Gpu | null,
    readonly manifest: CachedModel,
    readonly options: LoadCachedOptions,
  ) {
    this.cache = options.cache ?? modelCache();
  }

  get gpu(): Gpu {
    if (!this.device) throw new Error('this load reads files only; it has no GPU');
    return this.device;
  }

  alloc(label: string, bytes: number): GPUBuffer {
    return this.adopt(this.gpu.buffer(label, bytes));
  }

  adopt(buffer: GPUBuffer): GPUBuffer {
    this.buffers.add(buffer);
    return buffer;
  }

  release(...buffers: GPUBuffer[]): void {
    for (const buffer of buffers) this.buffers.delete(buffer);
    if (buffers.length > 0) this.gpu.destroy(...buffers);
  }

  releaseAll(): void {
    this.release(...this.buffers);
  }

  /** The model owns these now: a later failure must not free them. */
  handOver(): void {
    this.buffers.clear();
  }

  /** What the TensorUploader needs, its buffers counted as this load's. */
  get uploading(): UploadGpu {
    return { device: this.gpu.device, destroy: (...buffers) => this.release(...buffers), checkErrors: () => this.gpu.checkErrors() };
  }

  cancelled(): DOMException {
    return new DOMException(`loading ${this.manifest.name} was cancelled`, 'AbortError');
  }

  checkAborted(): void {
    if (this.options.signal?.aborted) throw this.cancelled();
  }

  /** The promise, or a cancellation error as soon as the signal aborts. */
  abortable<T>(promise: Promise<T>): Promise<T> {
    const signal = this.options.signal;
    if (!signal) return promise;
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(this.cancelled());
      const onAbort = () => reject(this.cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  progress(bytes: number): void {
    this.done += bytes;
    // About a thousand reports over the whole load, and the last one.
    if (this.options.onProgress && (this.done - this.reported >= this.total / 1000 || this.done === this.total)) {
      this.reported = this.done;
      this.options.onProgress(this.done, this.total);
    }
  }

  /** Runs work for one file; its errors come out naming the file (cancellation and earlier-named errors pass). */
  async inFile<T>(key: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.named(key, error);
    }
  }

  named(file: string, error: unknown): unknown {
    if (isAbort(error) || error instanceof ModelLoadError) return error;
    const message = `${this.manifest.name}: ${file}: ${errorMessage(error)}`;
    if (error instanceof GpuOutOfMemoryError) return new GpuOutOfMemoryError(message);
    return new ModelLoadError(message, file, { cause: error });
  }

  /**
   * Runs GPU work inside error scopes: an allocation the GPU could not satisfy, or any validation error,
   * throws here instead of surfacing later as a wrong result.
   */
  async gpuWork<T>(what: string, work: () => Promise<T>): Promise<T> {
    const device = this.gpu.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let result: T | undefined;
    let failure: unknown = null;
    try {
      result = await work();
    } catch (error) {
      failure = error;
    }
    const invalid = await device.popErrorScope();
    const outOfMemory = await device.popErrorScope();
    if (failure !== null) throw failure;
    if (outOfMemory) throw new GpuOutOfMemoryError(`${what}: the GPU ran out of memory (${outOfMemory.message})`);
    if (invalid) throw new GpuError(`${what}: ${invalid.message}`);
    return result as T;
  }

  async fileSize(key: string): Promise<number> {
    const record = await this.abortable(this.cache.info(key));
    if (!record) throw new Error('is not in the model cache (it was deleted, or never finished downloading)');
    return record.size;
  }

  async open(key: string): Promise<ReadableStreamDefaultReader<Uint8Array>> {
    const stream = await this.abortable(this.cache.read(key));
    if (!stream) throw new Error('is not in the model cache, or its copy was damaged and removed; download it again');
    return stream.getReader();
  }

  /** Streams a whole file into consume(chunk, offset), counting progress. */
  async stream(file: WeightFile, consume: (chunk: Uint8Array, offset: number) => Promise<void>): Promise<void> {
    const reader = await this.open(file.key);
    let offset = 0;
    try {
      for (;;) {
        this.checkAborted();
        const { done, value } = await this.abortable(reader.read());
        if (done) break;
        await consume(value, offset);
        offset += value.length;
        this.progress(value.length);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw error;
    }
    if (offset !== file.size) throw new Error(`read ${offset} bytes, expected ${file.size}`);
  }

  /** A small file (JSON) read whole. */
  async text(key: string): Promise<string> {
    const reader = await this.open(key);
    const chunks: Uint8Array[] = [];
    try {
      for (;;) {
        const { done, value } = await this.abortable(reader.read());
        if (done) break;
        chunks.push(value);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw error;
    }
    return new TextDecoder().decode(concat(chunks, 0, chunks.reduce((n, c) => n + c.length, 0)));
  }

  async json(key: string): Promise<unknown> {
    return this.inFile(key, async () => {
      const text = await this.text(key);
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new Error(`is not valid JSON: ${(error as Error).message}`);
      }
    });
  }

  /**
   * The first bytes of a file as a range source that reads on from the cache stream as far as it is asked
   * (for a header parser), and a function that closes the stream.
   */
  async prefixSource(file: WeightFile): Promise<{ source: GgufRangeSource; close(): Promise<void> }> {
    const reader = await this.open(file.key);
    const chunks: Uint8Array[] = [];
    let have = 0;
    let ended = false;
    const source: GgufRangeSource = {
      size: file.size,
      read: async (begin, end) => {
        const until = Math.min(end, file.size);
        while (have < until && !ended) {
          const { done, value } = await this.abortable(reader.read());
          if (done) ended = true;
          else {
            chunks.push(value);
            have += value.length;
          }
        }
        return concat(chunks, begin, Math.min(until, have));
      },
    };
    return { source, close: () => reader.cancel().catch(() => {}) };
  }
}

/** Bytes [begin, end) of the concatenation of chunks. */
function concat(chunks: readonly Uint8Array[], begin: number, end: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, end - begin));
  let position = 0;
  for (const chunk of chunks) {
    const from = Math.max(begin, position);
    const to = Math.min(end, position + chunk.length);
    if (from < to) out.set(chunk.subarray(from - position, to - position), from - begin);
    position += chunk.length;
    if (position >= end) break;
  }
  return out;
}



const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Replaces an F32/F16/BF16 linear weight by its quantization, made on the GPU, and frees the original. */
async function quantizeOnLoad(load: Loading, name: string, t: GpuTensor, type: QuantizeOnLoad): Promise<GpuTensor> {
  const quantized = quantizeLinear(load.gpu, name, t, type);
  if (!quantized) return t;
  load.adopt(quantized.buffer);
  load.release(t.buffer);
  await load.abortable(load.gpu.device.queue.onSubmittedWorkDone()); // frees the temporaries before the next one
  return quantized;
}

/** Builds the Model on the loaded buffers; from then on the Model owns them. */
async function buildModel(load: Loading, spec: ModelSpec, tensors: Map<string, GpuTensor>, files: string): Promise<Model> {
  load.checkAborted();
  const built: { model?: Model } = {};
  try {
    await load.gpuWork('building the model', async () => {
      built.model = Model.fromGpuTensors(load.gpu, spec, (name) => tensors.get(name));
      await load.gpu.device.queue.onSubmittedWorkDone();
    });
  } catch (error) {
    built.model?.destroy();
    throw load.named(files, error);
  }
  load.handOver();
  return built.model as Model;
}

interface FileTensor {
  name: string;
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
  /** Its encoding: the upload checks it for NaN and infinities. */
  type: GgmlType;
}

/**
 * One buffer per tensor, allocated in error scopes (a GPU out of memory fails here, before any byte is read),
 * then filled as the file streams by and checked for NaN and infinities on the GPU. Returns the buffers by tensor name.
 */
async function uploadFile(load: Loading, file: WeightFile, tensors: readonly FileTensor[]): Promise<Map<string, GPUBuffer>> {
  const plan: TensorPlacement[] = [];
  await load.gpuWork('allocating the weights', async () => {
    for (const { name, begin, end, type } of tensors) plan.push({ name, begin, end, type, buffer: load.alloc(name, end - begin), bufferOffset: 0 });
  });
  load.checkAborted();
  const uploader = new TensorUploader(load.uploading, plan, { checkFinite: load.gpu });
  try {
    await load.gpuWork('uploading the weights', async () => {
      await load.stream(file, (chunk, offset) => uploader.push(chunk, offset));
      await uploader.finish();
    });
  } catch (error) {
    uploader.abort(); // its buffers, and the finite check's
    throw error;
  }
  return new Map(plan.map((p) => [p.name, p.buffer]));
}

function checkTokenizer(load: Loading, tokenizer: Tokenizer, spec: ModelSpec, file: string): void {
  if (tokenizer.vocabSize > spec.vocabSize) {
    throw new ModelLoadError(
      `${load.manifest.name}: ${file}: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${spec.vocabSize}`,
      file,
    );
  }
}

/** tokenizer.json (and tokenizer_config.json) from the cache, as the manifest names them. */
async function cachedTokenizerFiles(load: Loading, key: string): Promise<TokenizerFiles> {
  const tokenizer = await load.json(key);
  const configKey = load.manifest.tokenizerConfig;
  const config = configKey ? await load.json(configKey) : {};
  if (typeof tokenizer !== 'object' || tokenizer === null) throw new ModelLoadError(`${load.manifest.name}: ${key}: is not a JSON object`, key);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ModelLoadError(`${load.manifest.name}: ${configKey}: is not a JSON object`, configKey ?? key);
  }
  return { tokenizer, config: config as Record<string, unknown> };
}

async function makeTokenizer(load: Loading, files: TokenizerFiles, file: string, spec: ModelSpec): Promise<Tokenizer> {
  const tokenizer = await load.inFile(file, async () => loadTokenizer(files));
  checkTokenizer(load, tokenizer, spec, file);
  return tokenizer;
}

// ---------------------------------------------------------------------------------------------------------
// GGUF

interface GgufPart extends WeightFile {
  header: GgufHeader;
}

async function readGgufHeader(load: Loading, file: WeightFile): Promise<GgufHeader> {
  const { source, close } = await load.prefixSource(file);
  try {
    return await parseGgufHeader(source);
  } catch (error) {
    load.checkAborted(); // the parser reports a cancelled read as a parse error
    throw error;
  } finally {
    await close();
  }
}

function metadataInt(metadata: GgufMetadata, key: string): number | undefined {
  const value = metadata[key];
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' ? value : undefined;
}

async function loadGguf(load: Loading, files: WeightFile[]): Promise<LoadedModel> {
  const parts: GgufPart[] = [];
  for (const file of files) {
    load.checkAborted();
    parts.push({ ...file, header: await load.inFile(file.key, () => readGgufHeader(load, file)) });
  }
  const first = parts[0];
  const { metadata } = first.header;
  const allFiles = files.map((f) => f.key).join(', ');
  const splitCount = metadataInt(metadata, 'split.count');
  if (splitCount !== undefined && splitCount !== parts.length) {
    throw load.named(first.key, new Error(`is part 1 of ${splitCount} (split.count), but the manifest lists ${parts.length} files`));
  }
  parts.forEach((part, i) => {
    const no = metadataInt(part.header.metadata, 'split.no');
    if (no !== undefined && no !== i) throw load.named(part.key, new Error(`is split part ${no + 1}, but the manifest lists it as part ${i + 1}`));
  });

  // Every tensor of every part, by GGUF name, with the part that holds it.
  const located = new Map<string, { info: GgufTensorInfo; part: GgufPart }>();
  for (const part of parts) {
    for (const info of part.header.tensorInfos) {
      if (located.has(info.name)) throw load.named(part.key, new Error(`tensor ${info.name} is also in ${located.get(info.name)?.part.key}`));
      located.set(info.name, { info, part });
    }
  }
  const infos = [...located.values()].map((l) => l.info);
  const ropeFreqs = located.get(ROPE_FREQS_TENSOR);
  // rope_freqs.weight holds values the spec needs: a first spec without it, the final one once it is loaded.
  let spec: ModelSpec = await load.inFile(first.key, async () =>
    specFromGguf(metadata, ropeFreqs ? infos.filter((info) => info.name !== ROPE_FREQS_TENSOR) : infos),
  );
  const shapes = baseWeightShapes(spec);
  for (const [hfName, shape] of shapes) {
    const ggufName = ggufNameOfHfTensor(hfName) as string;
    const found = located.get(ggufName);
    if (!found) throw load.named(allFiles, new Error(`missing tensor ${ggufName} (HF ${hfName})`));
    const hfShape = [...found.info.shape].reverse();
    if (!sameShape(hfShape, shape)) {
      throw load.named(found.part.key, new Error(`tensor ${ggufName} has shape [${found.info.shape}], expected [${[...shape].reverse()}] (HF ${hfName} [${shape}])`));
    }
  }

  const tokenizerFile = load.manifest.tokenizer ?? first.key;
  const tokenizerFiles = load.manifest.tokenizer
    ? await cachedTokenizerFiles(load, load.manifest.tokenizer)
    : await load.inFile(first.key, async () => tokenizerJsonFromGguf(metadata));
  const tokenizer = await makeTokenizer(load, tokenizerFiles, tokenizerFile, spec);

  // One buffer per tensor, filled as the file streams by.
  const raw = new Map<string, GpuTensor>(); // by HF name
  let ropeBuffer: GPUBuffer | undefined;
  for (const part of parts) {
    const { tensorInfos } = part.header;
    const buffers = await load.inFile(part.key, () =>
      uploadFile(load, part, tensorInfos.map((info) => ({ name: info.name, begin: info.offset, end: info.offset + info.byteLength, type: info.type }))),
    );
    for (const info of tensorInfos) {
      const buffer = buffers.get(info.name) as GPUBuffer;
      const hfName = hfNameOfGgufTensor(info.name);
      if (info.name === ROPE_FREQS_TENSOR) ropeBuffer = buffer;
      else if (hfName !== null) raw.set(hfName, { type: info.type, shape: [...info.shape].reverse(), buffer });
    }
  }

  return load.inFile(first.key, async () => {
    if (ropeFreqs && ropeBuffer) {
      const { info } = ropeFreqs;
      const bytes = new Uint8Array(await load.abortable(load.gpu.read(ropeBuffer, info.byteLength)));
      load.release(ropeBuffer);
      spec = specFromGguf(metadata, infos, dequantize(info.type, bytes, info.shape.reduce((a, b) => a * b, 1)));
    }
    const tensors = new Map<string, GpuTensor>();
    await load.gpuWork('preparing the weights', async () => {
      for (const [hfName, t] of raw) {
        load.checkAborted();
        let tensor = t;
        const heads = permutedQkHeads(spec, hfName);
        if (heads !== null) tensor = await unpermute(load, hfName, tensor, heads);
        if (load.options.quantize && isLinearWeight(hfName)) tensor = await quantizeOnLoad(load, hfName, tensor, load.options.quantize);
        tensors.set(hfName, tensor);
      }
    });
    const model = await buildModel(load, spec, tensors, allFiles);
    return { spec, tokenizer, model };
  });
}

/** The q/k weight with its rows in HF order, in a new buffer; the old one is freed. */
async function unpermute(load: Loading, name: string, t: GpuTensor, heads: number): Promise<GpuTensor> {
  const unpermuted = unpermuteQk(load.gpu, name, t, heads);
  load.adopt(unpermuted.buffer);
  load.release(t.buffer);
  await load.abortable(load.gpu.device.queue.onSubmittedWorkDone());
  return unpermuted;
}

// ---------------------------------------------------------------------------------------------------------
// safetensors

const SAFETENSORS_TYPES: Partial<Record<string, GgmlType>> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };

/** The header of a safetensors file: its first 8 + N bytes, read from the cache stream. */
async function readSafetensorsHeader(load: Loading, file: WeightFile): Promise<SafetensorsHeader> {
  const { source, close } = await load.prefixSource(file);
  try {
    const first8 = await source.read(0, 8);
    if (first8.length < 8) throw new Error(`safetensors: not a safetensors file (${file.size} bytes)`);
    return parseSafetensorsHeader(await source.read(0, 8 + headerByteLength(first8)), file.size);
  } finally {
    await close();
  }
}

async function loadSafetensors(load: Loading, files: WeightFile[]): Promise<LoadedModel> {
  const { manifest } = load;
  const configKey = manifest.config;
  if (!configKey) throw new ModelLoadError(`${manifest.name}: a safetensors model needs config.json, and the manifest names none`, manifest.name);
  const config = await load.json(configKey);
  const spec = await load.inFile(configKey, async () => specFromHfConfig(config));
  if (!manifest.tokenizer) throw new ModelLoadError(`${manifest.name}: a safetensors model needs tokenizer.json, and the manifest names none`, manifest.name);
  const tokenizer = await makeTokenizer(load, await cachedTokenizerFiles(load, manifest.tokenizer), manifest.tokenizer, spec);

  // Headers first: a missing tensor, a wrong shape or dtype fails before any weight is read.
  const shapes = baseWeightShapes(spec);
  const shardOf = new Map<string, string>();
  const headers: SafetensorsHeader[] = [];
  for (const file of files) {
    load.checkAborted();
    const header = await load.inFile(file.key, () => readSafetensorsHeader(load, file));
    headers.push(header);
    for (const info of header.tensors.values()) {
      const shape = shapes.get(info.name);
      if (!shape) continue;
      const fail = (problem: string) => {
        throw load.named(file.key, new Error(`tensor ${info.name} ${problem}`));
      };
      if (shardOf.has(info.name)) fail(`is also in ${shardOf.get(info.name)}`);
      shardOf.set(info.name, file.key);
    }
  }
  // The checks every loader shares (./validate): no tensor of a layer past num_hidden_layers, and the rest.
  const allTensors = new Map(headers.flatMap((header, i) => [...header.tensors.values()].map((info) => [info.name, { ...info, file: files[i].key }] as const)));
  try {
    checkSafetensorsModel(spec, allTensors, files.map((f) => f.key), []);
  } catch (error) {
    throw new ModelLoadError(`${manifest.name}: ${errorMessage(error)}`, error instanceof TensorFileError ? error.file : files[0].key, { cause: error });
  }

  const tensors = new Map<string, GpuTensor>();
  for (const [i, file] of files.entries()) {
    const header = headers[i];
    const wanted = [...header.tensors.values()].filter((info) => shardOf.get(info.name) === file.key);
    await load.inFile(file.key, async () => {
      const buffers = await uploadFile(
        load, file, wanted.map((info) => ({
          name: info.name, begin: header.dataOffset + info.begin, end: header.dataOffset + info.end, type: SAFETENSORS_TYPES[info.dtype] as GgmlType,
        })),
      );
      // This shard's linear weights are quantized before the next shard arrives: at most one shard stays raw.
      await load.gpuWork('preparing the weights', async () => {
        for (const info of wanted) {
          load.checkAborted();
          let tensor: GpuTensor = { type: SAFETENSORS_TYPES[info.dtype] as GgmlType, shape: info.shape, buffer: buffers.get(info.name) as GPUBuffer };
          if (load.options.quantize && isLinearWeight(info.name)) tensor = await quantizeOnLoad(load, info.name, tensor, load.options.quantize);
          tensors.set(info.name, tensor);
        }
      });
    });
  }
  const model = await buildModel(load, spec, tensors, files.map((f) => f.key).join(', '));
  return { spec, tokenizer, model };
}
