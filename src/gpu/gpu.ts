// The small GPU layer: device setup, buffers with byte accounting, a pipeline cache, one-call dispatch
// and optional per-kernel timing. It knows nothing about models.
import { formatBytes } from '../util/format';


export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface GpuFeatures {
  f16: boolean;
  subgroups: boolean;
  /** WGSL's subgroup_id language feature (the subgroup_id and num_subgroups builtins). */
  subgroupId: boolean;
  /** The adapter's subgroup sizes, [min, max] ([0, 0] when it does not say). */
  subgroupSizes: [number, number];
  timestamps: boolean;
  /** The subgroup matrix shapes (tensor cores) of chromium-experimental-subgroup-matrix; empty without it. */
  subgroupMatrix: SubgroupMatrixConfig[];
}

/** One GPUSubgroupMatrixConfig: left M x K times right K x N of componentType, into an M x N result. */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export type Params = ArrayBuffer | ArrayBufferView;

export interface KernelCall {
  pipeline: GPUComputePipeline;
  /** Bound at bindings 1..n in order. */
  buffers: GPUBuffer[];
  /** A uniform struct bound at binding 0. */
  params?: Params;
  workgroups: [number, number?, number?];
  label?: string;
}

/** Tensor cores, where Chrome runs with --enable-unsafe-webgpu (or Dawn with allow_unsafe_apis). */
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

const STORAGE = 0x80 | 0x04 | 0x08; // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST

export class WebGpuMissingError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'WebGpuMissingError';
  }
}

export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuError';
  }
}

/** Why a device was lost: 'destroyed' (device.destroy()) or 'unknown' (driver reset, out of memory, ...). */
export interface DeviceLoss {
  reason: string;
  message: string;
}

export class GpuOutOfMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuOutOfMemoryError';
  }
}

export function reportAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

/** Limits worth raising for large models: ask for the adapter's maximum. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

export class Gpu {
  readonly features: GpuFeatures;
  readonly limits: GPUSupportedLimits;
  /** Bytes held by buffers made through this object, now and at most. */
  allocatedBytes = 0;
  peakBytes = 0;
  /** The biggest single buffer made so far. */
  largestBuffer = { label: '', bytes: 0 };
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private readonly pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly bindGroups = new BindGroupCache();
  private timer: KernelTimer | null = null;
  private readonly errors: string[] = [];
  /** Set once the device is lost (whatever the reason); null while it works. */
  lost: DeviceLoss | null = null;
  /** Resolves when the device is lost. */
  readonly whenLost: Promise<DeviceLoss>;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterReport,
    wgslFeatures: ReadonlySet<string>,
    info: GPUAdapterInfo | undefined,
  ) {
    const has = (f: string) => device.features.has(f);
    const more = info as { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[] } | undefined;
    this.features = {
      f16: has('shader-f16'),
      subgroups: has('subgroups'),
      subgroupId: wgslFeatures.has('subgroup_id'),
      subgroupSizes: [more?.subgroupMinSize ?? 0, more?.subgroupMaxSize ?? 0],
      timestamps: has('timestamp-query'),
      subgroupMatrix: has(SUBGROUP_MATRIX)
        ? (more?.subgroupMatrixConfigs ?? []).map(({ componentType, resultComponentType, M, N, K }) => ({ componentType, resultComponentType, M, N, K }))
        : [],
    };
    this.limits = device.limits;
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
    this.whenLost = device.lost.then((info) => {
      this.lost = { reason: String(info.reason), message: info.message };
      if (info.reason !== 'destroyed') this.errors.push(`GPU device lost: ${info.message}`);
      return this.lost;
    });
  }

  /** Throws the first WebGPU error raised since the last check: a wrong result must never pass silently. */
  checkErrors(): void {
    if (this.errors.length === 0) return;
    const message = this.errors.join('\n');
    this.errors.length = 0;
    throw new GpuError(message);
  }

  /** Opens the best adapter with raised limits and the optional features it offers. */
  static async create(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<Gpu> {
    if (!gpu) {
      throw new WebGpuMissingError('This browser has no WebGPU (navigator.gpu is undefined).');
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new WebGpuMissingError('WebGPU is present, but no GPU adapter is available.');
    const wanted = ['shader-f16', 'subgroups', 'timestamp-query', SUBGROUP_MATRIX] as GPUFeatureName[];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED_LIMITS) {
      const value = (adapter.limits as unknown as Record<string, number>)[name];
      if (typeof value === 'number') requiredLimits[name] = value;
    }
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    return new Gpu(device, reportAdapter(adapter), gpu.wgslLanguageFeatures ?? new Set(), adapter.info);
  }

  /**
   * A compute pipeline for the WGSL source, compiled once per (source, entry point, constants). Looked up by the
   * source string itself, whose hash V8 keeps with the string, so a lookup does not rehash the source.
   */
  pipeline(code: string, entryPoint = 'main', constants?: Record<string, number>): GPUComputePipeline {
    let bySource = this.pipelines.get(code);
    if (!bySource) this.pipelines.set(code, (bySource = new Map()));
    const key = constants ? `${entryPoint}\u0000${JSON.stringify(constants)}` : entryPoint;
    let pipeline = bySource.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code });
      pipeline = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
      bySource.set(key, pipeline);
    }
    return pipeline;
  }

  /** A storage buffer (also a copy source and destination). Size in bytes, rounded up to 4. */
  buffer(label: string, size: number): GPUBuffer {
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    if (bytes > maxBinding) {
      throw new GpuOutOfMemoryError(
        `${label} needs ${formatBytes(bytes)} in one buffer, but this GPU binds at most ${formatBytes(maxBinding)}.`,
      );
    }
    const buffer = this.device.createBuffer({ label, size: bytes, usage: STORAGE });
    this.sizes.set(buffer, bytes);
    this.allocatedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.allocatedBytes);
    if (bytes > this.largestBuffer.bytes) this.largestBuffer = { label, bytes };
    return buffer;
  }

  /** A storage buffer holding a copy of data. */
  upload(label: string, data: ArrayBufferView): GPUBuffer {
    const buffer = this.buffer(label, data.byteLength);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    this.device.queue.writeBuffer(buffer, byteOffset, padded);
  }

  destroy(...buffers: (GPUBuffer | null | undefined)[]): void {
    for (const buffer of buffers) {
      if (!buffer) continue;
      const bytes = this.sizes.get(buffer);
      if (bytes !== undefined) {
        this.allocatedBytes -= bytes;
        this.sizes.delete(buffer);
      }
      this.bindGroups.forget(buffer);
      buffer.destroy();
    }
  }

  /** Records one kernel launch as its own compute pass (timed when timing is on). */
  run(encoder: GPUCommandEncoder, call: KernelCall): void {
    const bindGroup = this.bindGroup(call.pipeline, call.buffers, call.params ? this.uniform(call.params) : null);
    const label = call.label ?? call.pipeline.label ?? 'kernel';
    const pass = encoder.beginComputePass({ label, timestampWrites: this.timer?.slot(label) });
    pass.setPipeline(call.pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = call.workgroups;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`${label}: ${x}x${y}x${z} workgroups exceed the limit of ${max} per dimension`);
    }
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }

  /** Encodes, submits and waits: for tests and one-off work. */
  async submit(record: (encoder: GPUCommandEncoder) => void): Promise<void> {
    const encoder = this.device.createCommandEncoder();
    record(encoder);
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    this.checkErrors();
  }

  async read(buffer: GPUBuffer, byteLength = buffer.size, byteOffset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const copy = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    staging.destroy();
    this.checkErrors();
    return copy;
  }

  async readF32(buffer: GPUBuffer, length?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, length === undefined ? buffer.size : length * 4));
  }

  /** Starts timing every kernel launch (needs timestamp-query). */
  startTiming(): boolean {
    if (!this.features.timestamps) return false;
    this.timer?.destroy();
    this.timer = new KernelTimer(this.device);
    return true;
  }

  /** Milliseconds per kernel label since startTiming, and stops timing. */
  async stopTiming(): Promise<Record<string, { ms: number; calls: number }>> {
    const timer = this.timer;
    this.timer = null;
    if (!timer) return {};
    const result = await timer.resolve();
    timer.destroy();
    return result;
  }

  /** Bind groups made so far and still cached (for tests). */
  get cachedBindGroups(): number {
    return this.bindGroups.size;
  }

  /** The bind group of (pipeline, uniform, storage buffers), cached: a step binds the same buffers every time. */
  private bindGroup(pipeline: GPUComputePipeline, buffers: GPUBuffer[], uniform: GPUBuffer | null): GPUBindGroup {
    const bound = uniform ? [...buffers, uniform] : buffers;
    return this.bindGroups.get(pipeline, bound, () => {
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }));
      if (uniform) entries.push({ binding: 0, resource: { buffer: uniform } });
      return this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    });
  }

  /** Uniform buffers are cached by content: a training step reuses the same shapes every time. */
  private uniform(params: Params): GPUBuffer {
    const bytes =
      params instanceof ArrayBuffer
        ? new Uint8Array(params)
        : new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    let key = '';
    for (let i = 0; i < bytes.length; i++) key += String.fromCharCode(bytes[i]);
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      // Per-step values (AdamW's bias corrections) would grow the cache forever: start afresh now and then
      // and let the old buffers be collected (commands already recorded keep theirs alive).
      if (this.uniforms.size >= 4096) this.uniforms.clear();
      const size = Math.max(16, Math.ceil(bytes.length / 16) * 16);
      buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      const padded = new Uint8Array(size);
      padded.set(bytes);
      this.device.queue.writeBuffer(buffer, 0, padded);
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }
}

/**
 * Bind groups keyed by the identity of the pipeline and of every bound buffer (whole buffers are bound, so
 * offset and size follow from the buffer). Least recently used entries go past `capacity`; forget(buffer)
 * drops every entry binding that buffer, so a destroyed buffer is never bound again.
 */
export class BindGroupCache {
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly entries = new Map<string, { group: GPUBindGroup; buffers: GPUBuffer[] }>();
  private readonly keysOf = new Map<GPUBuffer, Set<string>>();

  constructor(readonly capacity = 8192) {}

  get size(): number {
    return this.entries.size;
  }

  get(pipeline: object, buffers: GPUBuffer[], make: () => GPUBindGroup): GPUBindGroup {
    let key = String(this.id(pipeline));
    for (const buffer of buffers) key += ',' + this.id(buffer);
    const hit = this.entries.get(key);
    if (hit) {
      // Map order is insertion order: move the entry to the young end.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.group;
    }
    const group = make();
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.drop(oldest);
    }
    this.entries.set(key, { group, buffers: [...buffers] });
    for (const buffer of buffers) {
      let keys = this.keysOf.get(buffer);
      if (!keys) this.keysOf.set(buffer, (keys = new Set()));
      keys.add(key);
    }
    return group;
  }

  forget(buffer: GPUBuffer): void {
    const keys = this.keysOf.get(buffer);
    if (!keys) return;
    for (const key of [...keys]) this.drop(key);
    this.keysOf.delete(buffer);
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const buffer of entry.buffers) {
      const keys = this.keysOf.get(buffer);
      keys?.delete(key);
      if (keys?.size === 0) this.keysOf.delete(buffer);
    }
  }

  private id(object: object): number {
    let id = this.ids.get(object);
    if (id === undefined) this.ids.set(object, (id = this.nextId++));
    return id;
  }
}

/** Timestamp pairs around every compute pass, in as many query sets as the kernel count needs. */
class KernelTimer {
  private static readonly PAIRS_PER_SET = 2048; // query sets hold at most 4096 queries
  private readonly querySets: GPUQuerySet[] = [];
  private readonly labels: string[] = [];

  constructor(private readonly device: GPUDevice) {}

  slot(label: string): GPUComputePassTimestampWrites {
    const i = this.labels.push(label) - 1;
    const set = Math.floor(i / KernelTimer.PAIRS_PER_SET);
    if (set === this.querySets.length) {
      this.querySets.push(this.device.createQuerySet({ type: 'timestamp', count: 2 * KernelTimer.PAIRS_PER_SET }));
    }
    const j = i % KernelTimer.PAIRS_PER_SET;
    return { querySet: this.querySets[set], beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 };
  }

  async resolve(): Promise<Record<string, { ms: number; calls: number }>> {
    const n = this.labels.length;
    const out: Record<string, { ms: number; calls: number }> = {};
    if (n === 0) return out;
    const bytes = 16 * KernelTimer.PAIRS_PER_SET * this.querySets.length;
    const usage = GPUBufferUsage;
    const resolved = this.device.createBuffer({ size: bytes, usage: usage.QUERY_RESOLVE | usage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: usage.MAP_READ | usage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    this.querySets.forEach((set, s) => {
      const count = 2 * Math.min(KernelTimer.PAIRS_PER_SET, n - s * KernelTimer.PAIRS_PER_SET);
      encoder.resolveQuerySet(set, 0, count, resolved, s * 16 * KernelTimer.PAIRS_PER_SET);
    });
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const ticks = new BigUint64Array(staging.getMappedRange());
    for (let i = 0; i < n; i++) {
      const ns = ticks[2 * i + 1] > ticks[2 * i] ? Number(ticks[2 * i + 1] - ticks[2 * i]) : 0;
      const entry = (out[this.labels[i]] ??= { ms: 0, calls: 0 });
      entry.ms += ns / 1e6;
      entry.calls += 1;
    }
    staging.unmap();
    staging.destroy();
    resolved.destroy();
    return out;
  }

  destroy(): void {
    for (const set of this.querySets) set.destroy();
  }
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  padded.set(bytes);
  return padded;
}

