// The model load benchmark: how fast a cached safetensors file streams from browser storage into GPU buffers,
// and how much JS heap the load takes. It writes a synthetic file into a cache of its own (never the user's
// models), loads it through the app's load path (streamFileCached -> SafetensorsToGpu), checks a few bytes
// read back from the GPU, and removes everything it made. The file's sha256 is computed as it enters the cache,
// so the load does not hash; a second load of it as a record from before that (unverified) shows what hashing costs.
import type { Gpu } from '../gpu/gpu';
import { type CacheBackend, ModelCache, checkQuota, streamFileCached } from '../model/sources/cache';
import { createSha256 } from '../model/sources/download';
import { SafetensorsToGpu } from '../model/sources/to-gpu';

/** The benchmark's own cache (OPFS folder / Cache Storage name, and IndexedDB database). */
export const LOAD_BENCH_CACHE = { name: 'manyicl-load-bench', database: 'manyicl-load-bench' } as const;
export const LOAD_BENCH_KEY = 'load-bench/synthetic.safetensors';

const MiB = 1024 * 1024;

export interface LoadBenchProgress {
  phase: 'write' | 'load';
  loaded: number;
  total: number;
}

export interface LoadBenchOptions {
  /** Size of the tensor data; the file adds its header (a few KB). */
  bytes: number;
  /** Chunk size of the synthetic file as written to the cache. Default 4 MiB. */
  chunkBytes?: number;
  /** Bytes per tensor (one GPU buffer each), capped by the GPU's buffer limits. Default 64 MiB. */
  tensorBytes?: number;
  /** Default: OPFS where it is writable, else Cache Storage. */
  backend?: CacheBackend;
  /**
   * Also time a load of the file as a record cached before entries were hashed (no verified flag), which
   * verifies its sha256 while reading. Default true.
   */
  sha256?: boolean;
  /** JS heap bytes now. Default performance.memory.usedJSHeapSize (Chromium). */
  readHeap?: () => number | Promise<number>;
  /** Runs before the baseline is taken. Default globalThis.gc where exposed (--js-flags=--expose-gc). */
  collectGarbage?: () => void | Promise<void>;
  /** How the readHeap option measures, for the result. */
  heapMeasurement?: string;
  /**
   * Least time between heap samples, which are taken between chunks (the load's promise chain can run for
   * seconds without yielding to timers). An asynchronous readHeap pauses the load while it reads. Default 0:
   * after every chunk.
   */
  heapSampleEveryMs?: number;
  onProgress?(progress: LoadBenchProgress): void;
}

export interface SpotCheck {
  tensor: string;
  /** Byte offset in the tensor, and how many bytes were compared there. */
  offset: number;
  bytes: number;
  matches: boolean;
}

export interface LoadBenchResult {
  /** The whole file (header included). */
  bytes: number;
  tensors: number;
  tensorBytes: number;
  chunkBytes: number;
  backend: CacheBackend;
  /** The GPU adapter, and the largest tensor (buffer) it allowed. */
  adapter: string;
  maxTensorBytes: number;
  /** The cache hashed the file as it entered and recorded it as verified. */
  sha256Verified: boolean;
  /** Making the file and storing it in the cache, its sha256 computed on the way (the entry). */
  writeSeconds: number;
  writeMBps: number;
  /** From opening the cached (verified) file to the GPU queue having done every write: no hashing. */
  loadSeconds: number;
  /** MiB (2^20 bytes) per second. */
  loadMBps: number;
  /** sha256 hashers the cache made during that load (0: it did not hash). */
  loadHashers: number;
  /** The same load of the file as an unverified record (hashed while read, then marked); null without `sha256`. */
  hashedLoadSeconds: number | null;
  hashedLoadMBps: number | null;
  /** JS heap before the load (after a GC where one could be asked for), at most during it, and the difference. */
  heapBaselineBytes: number | null;
  heapPeakBytes: number | null;
  heapPeakAboveBaselineBytes: number | null;
  heapSamples: number;
  /** What the heap figures are and how they were taken. */
  heapMeasurement: string;
  /** GPU buffer bytes the load allocated (all held at the end: its peak). */
  gpuPeakBytes: number;
  spotChecks: SpotCheck[];
}

/** The synthetic data: the little-endian u32 at data-section byte 4k is patternWord(k). */
function patternWord(k: number): number {
  let x = Math.imul(k ^ 0x9e3779b9, 0x85ebca6b);
  x ^= x >>> 13;
  return Math.imul(x, 0xc2b2ae35) ^ (x >>> 16);
}

/** Byte `offset` of the data section. */
export function patternByte(offset: number): number {
  return (patternWord(Math.floor(offset / 4)) >>> (8 * (offset % 4))) & 0xff;
}

/** Data-section bytes [start, start + length); start is a multiple of 4. */
function patternChunk(start: number, length: number): Uint8Array<ArrayBuffer> {
  const words = new Uint32Array(Math.ceil(length / 4));
  const first = start / 4;
  for (let i = 0; i < words.length; i++) words[i] = patternWord(first + i);
  return new Uint8Array(words.buffer, 0, length);
}

interface SyntheticLayout {
  /** The 8-byte length and the JSON header, padded with spaces so that the data starts on an 8-byte boundary. */
  head: Uint8Array<ArrayBuffer>;
  fileBytes: number;
  tensorNames: string[];
  /** Data-section byte range of each tensor. */
  ranges: { begin: number; end: number }[];
}

function syntheticLayout(dataBytes: number, tensorBytes: number): SyntheticLayout {
  const count = Math.max(1, Math.ceil(dataBytes / tensorBytes));
  const digits = String(count - 1).length;
  const header: Record<string, unknown> = { __metadata__: { format: 'manyicl-load-bench' } };
  const tensorNames: string[] = [];
  const ranges: { begin: number; end: number }[] = [];
  for (let i = 0; i < count; i++) {
    const name = `bench.${String(i).padStart(digits, '0')}`;
    const begin = i * tensorBytes;
    const end = Math.min(dataBytes, begin + tensorBytes);
    header[name] = { dtype: 'U8', shape: [end - begin], data_offsets: [begin, end] };
    tensorNames.push(name);
    ranges.push({ begin, end });
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const jsonBytes = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + jsonBytes).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(jsonBytes), true);
  head.set(json, 8);
  return { head, fileBytes: head.length + dataBytes, tensorNames, ranges };
}

/** Reads the JS heap between chunks and keeps the largest value. */
class HeapSampler {
  peak = 0;
  samples = 0;
  private last = -Infinity;

  constructor(
    private readonly readHeap: () => number | Promise<number>,
    private readonly everyMs: number,
  ) {}

  /** Takes a sample unless the last one was under everyMs ago (or `force`). An asynchronous reader is awaited. */
  async sample(force = false): Promise<void> {
    const now = performance.now();
    if (!force && now - this.last < this.everyMs) return;
    this.last = now;
    const bytes = this.readHeap();
    this.peak = Math.max(this.peak, typeof bytes === 'number' ? bytes : await bytes);
    this.samples += 1;
  }
}

/** Chromium's performance.memory: a snapshot taken when the property is read. */
function usedJSHeapSize(): number | undefined {
  return (globalThis.performance as unknown as { memory?: { usedJSHeapSize: number } } | undefined)?.memory?.usedJSHeapSize;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether performance.memory follows allocations: Chromium reports it to the byte (refreshed at most every
 * 50 ms) only with --enable-precise-memory-info, and otherwise gives a rounded value refreshed every 20 minutes.
 */
async function performanceMemoryIsPrecise(): Promise<boolean> {
  const before = usedJSHeapSize() as number;
  const probe = new Uint8Array(4 * MiB).fill(1); // array buffers count in usedJSHeapSize
  await sleep(60);
  const grown = (usedJSHeapSize() as number) - before;
  return probe[0] === 1 && grown >= 4 * MiB;
}

/** V8 frees array buffers in the background: their bytes leave the heap figures at the next collection. */
async function collectFully(collectGarbage: () => void | Promise<void>): Promise<void> {
  await collectGarbage();
  await sleep(10);
  await collectGarbage();
}

/**
 * Reads only the live heap: collects garbage before each reading, so that the peak shows what the load holds
 * rather than when the collector happened to run. Slow (a full collection per sample); the load is timed
 * with it running.
 */
export function liveHeapReader(
  collectGarbage: () => void | Promise<void>,
  readHeap: () => number | Promise<number>,
  refreshMs = 0,
): () => Promise<number> {
  return async () => {
    await collectFully(collectGarbage);
    if (refreshMs > 0) await sleep(refreshMs);
    return readHeap();
  };
}

/** performance.memory.usedJSHeapSize, for liveHeapReader (undefined where the browser has none). */
export function performanceMemoryReader(): (() => number) | undefined {
  return usedJSHeapSize() === undefined ? undefined : () => usedJSHeapSize() as number;
}

async function defaultHeapReader(): Promise<{ readHeap: (() => number) | null; description: string }> {
  if (usedJSHeapSize() === undefined) return { readHeap: null, description: 'unavailable: this browser has no performance.memory' };
  const readHeap = () => usedJSHeapSize() as number;
  if (!(await performanceMemoryIsPrecise())) {
    return {
      readHeap,
      description:
        'performance.memory.usedJSHeapSize, bucketized and stale (Chromium without --enable-precise-memory-info): ' +
        'the peak is not meaningful',
    };
  }
  return { readHeap, description: 'performance.memory.usedJSHeapSize, precise (array buffers included, refreshed every 50 ms)' };
}

async function writeSyntheticFile(
  cache: ModelCache,
  layout: SyntheticLayout,
  chunkBytes: number,
  onProgress?: (progress: LoadBenchProgress) => void,
): Promise<boolean> {
  const dataBytes = layout.fileBytes - layout.head.length;
  const writer = await cache.write(LOAD_BENCH_KEY, { size: layout.fileBytes });
  try {
    const store = (chunk: Uint8Array) => writer.write(chunk);
    await store(layout.head);
    // A fresh array per chunk: the Cache Storage backend keeps a reference to it until the stream is read.
    for (let start = 0; start < dataBytes; start += chunkBytes) {
      await store(patternChunk(start, Math.min(chunkBytes, dataBytes - start)));
      onProgress?.({ phase: 'write', loaded: layout.head.length + Math.min(dataBytes, start + chunkBytes), total: layout.fileBytes });
    }
    return (await writer.close()).verified === true;
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Compares windows at the start, middle and end of a tensor's GPU buffer with the pattern. */
async function spotCheckTensor(gpu: Gpu, buffer: GPUBuffer, name: string, range: { begin: number; end: number }): Promise<SpotCheck[]> {
  const length = range.end - range.begin;
  const span = Math.min(4096, length);
  const floor4 = (n: number) => Math.floor(n / 4) * 4;
  const offsets = [...new Set([0, floor4((length - span) / 2), floor4(length - span)])];
  const checks: SpotCheck[] = [];
  for (const offset of offsets) {
    const bytes = offset === offsets[offsets.length - 1] ? length - offset : span; // the last one reaches the end
    const read = new Uint8Array(await gpu.read(buffer, Math.ceil(bytes / 4) * 4, offset));
    let matches = true;
    for (let i = 0; i < bytes && matches; i++) matches = read[i] === patternByte(range.begin + offset + i);
    checks.push({ tensor: name, offset, bytes, matches });
  }
  return checks;
}

/**
 * Writes a synthetic safetensors file of about `bytes` into the benchmark's cache, times loading it back into
 * GPU buffers, samples the JS heap during the load, checks bytes read back, and removes the file and buffers.
 * Throws when a checked byte is wrong.
 */
export async function benchmarkCacheToGpu(gpu: Gpu, options: LoadBenchOptions): Promise<LoadBenchResult> {
  const chunkBytes = Math.max(4, Math.floor((options.chunkBytes ?? 4 * MiB) / 4) * 4);
  const maxTensorBytes = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const tensorBytes = Math.max(1, Math.floor(Math.min(options.tensorBytes ?? 64 * MiB, maxTensorBytes)));
  const dataBytes = Math.max(1, Math.floor(options.bytes));
  const withSha256 = options.sha256 ?? true;
  const layout = syntheticLayout(dataBytes, tensorBytes);

  let hashers = 0;
  const cache = new ModelCache({ ...LOAD_BENCH_CACHE, backend: options.backend, createHasher: () => (hashers++, createSha256()) });
  await cache.delete(LOAD_BENCH_KEY); // a run that crashed may have left its file
  await cache.removeIncomplete();
  const quota = await checkQuota(layout.fileBytes);
  if (!quota.ok) throw new Error(`load benchmark: ${quota.message}`);

  const heap = options.readHeap
    ? { readHeap: options.readHeap, description: options.heapMeasurement ?? 'the readHeap option' }
    : await defaultHeapReader();
  const exposedGc = (globalThis as { gc?: () => void }).gc;
  const collectGarbage = options.collectGarbage ?? exposedGc;

  const allocatedAtStart = gpu.allocatedBytes;
  let loader: SafetensorsToGpu | null = null;
  /** Destroys every buffer the current load allocated. */
  const release = () => {
    loader?.abort();
    loader = null;
  };
  try {
    const writeStart = performance.now();
    const sha256Verified = await writeSyntheticFile(cache, layout, chunkBytes, options.onProgress);
    const writeSeconds = (performance.now() - writeStart) / 1000;

    if (collectGarbage) await collectFully(collectGarbage);
    await sleep(60); // performance.memory is refreshed at most every 50 ms
    const heapBaselineBytes = heap.readHeap ? await heap.readHeap() : null;
    const sampler = heap.readHeap ? new HeapSampler(heap.readHeap, options.heapSampleEveryMs ?? 0) : null;

    /** The app's load path, cache -> GPU buffers; returns the loader and the seconds it took. */
    const load = async (onChunk?: () => Promise<void>) => {
      const start = performance.now();
      const activeLoader = new SafetensorsToGpu(gpu, layout.fileBytes);
      loader = activeLoader;
      const read = await streamFileCached({
        url: `https://manyicl-load-bench.invalid/${LOAD_BENCH_KEY}`,
        key: LOAD_BENCH_KEY,
        cache,
        expectedSize: layout.fileBytes,
        fetch: () => Promise.reject(new Error('load benchmark: the file is not in the cache')),
        maxRetries: 1,
        onProgress: (p) => options.onProgress?.({ phase: 'load', loaded: p.loaded, total: layout.fileBytes }),
        onChunk: async (chunk, offset) => {
          await activeLoader.push(chunk, offset);
          await onChunk?.();
        },
      });
      const { buffers } = await activeLoader.finish(); // waits for the GPU queue
      if (!read.fromCache) throw new Error('load benchmark: the file did not come from the cache');
      return { buffers, seconds: (performance.now() - start) / 1000 };
    };
    const hashersBefore = hashers;
    const { buffers, seconds: loadSeconds } = await load(() => sampler?.sample() ?? Promise.resolve());
    const loadHashers = hashers - hashersBefore;
    await sampler?.sample(true);

    const gpuPeakBytes = gpu.allocatedBytes - allocatedAtStart;
    const checked = [0, Math.floor((layout.tensorNames.length - 1) / 2), layout.tensorNames.length - 1];
    const spotChecks: SpotCheck[] = [];
    for (const i of [...new Set(checked)]) {
      const name = layout.tensorNames[i];
      spotChecks.push(...(await spotCheckTensor(gpu, buffers.get(name) as GPUBuffer, name, layout.ranges[i])));
    }
    const wrong = spotChecks.filter((check) => !check.matches);
    if (wrong.length > 0) {
      throw new Error(`load benchmark: wrong bytes on the GPU at ${wrong.map((w) => `${w.tensor}+${w.offset}`).join(', ')}`);
    }

    let hashedLoadSeconds: number | null = null;
    if (withSha256) {
      release(); // the first load's buffers
      await cache.markUnverified(LOAD_BENCH_KEY);
      hashedLoadSeconds = (await load()).seconds;
    }

    const heapPeakBytes = sampler && heapBaselineBytes !== null ? Math.max(sampler.peak, heapBaselineBytes) : null;
    const gcNote = collectGarbage ? '; baseline taken after a garbage collection' : '; no garbage collection before the baseline';
    return {
      bytes: layout.fileBytes,
      tensors: layout.tensorNames.length,
      tensorBytes,
      chunkBytes,
      backend: cache.backend,
      adapter: [gpu.adapter.vendor, gpu.adapter.architecture, gpu.adapter.description].filter(Boolean).join(' / '),
      maxTensorBytes,
      sha256Verified,
      writeSeconds,
      writeMBps: layout.fileBytes / MiB / writeSeconds,
      loadSeconds,
      loadMBps: layout.fileBytes / MiB / loadSeconds,
      loadHashers,
      hashedLoadSeconds,
      hashedLoadMBps: hashedLoadSeconds === null ? null : layout.fileBytes / MiB / hashedLoadSeconds,
      heapBaselineBytes,
      heapPeakBytes,
      heapPeakAboveBaselineBytes: heapPeakBytes !== null && heapBaselineBytes !== null ? heapPeakBytes - heapBaselineBytes : null,
      heapSamples: sampler?.samples ?? 0,
      heapMeasurement: heap.description + (heap.readHeap ? gcNote : ''),
      gpuPeakBytes,
      spotChecks,
    };
  } finally {
    release();
    await cache.delete(LOAD_BENCH_KEY);
    await cache.removeIncomplete();
  }
}
