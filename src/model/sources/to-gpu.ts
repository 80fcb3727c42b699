// Writes tensors into GPU buffers as the file's bytes stream in (from a download, the cache or a local file),
// so that the JS heap holds at most one chunk plus a few bytes of one tensor. Each tensor whose type is known is
// checked for NaN and infinities on the GPU as it completes, and finish() reads the results once.
import { type GgmlType, blockBytes, blockSize } from '../../engine/ggml';
import { ALL_FINITE, findNonFinite } from '../../engine/ops/finite';
import type { Gpu } from '../../gpu/gpu';
import { type SafetensorsHeader, type SafetensorsTensorInfo, headerByteLength, parseSafetensorsHeader } from '../safetensors';

/** Where one tensor's bytes go. */
export interface TensorPlacement {
  name: string;
  /** Absolute byte range in the file, end exclusive. */
  begin: number;
  end: number;
  buffer: GPUBuffer;
  /** Where the tensor starts in the buffer; a multiple of 4. */
  bufferOffset: number;
  /** How the file encodes it: with `checkFinite`, the upload checks it for NaN and infinities. */
  type?: GgmlType;
}

/** What the uploader needs of the GPU layer (the Gpu class has it). */
export interface UploadGpu {
  readonly device: { readonly queue: Pick<GPUQueue, 'writeBuffer' | 'onSubmittedWorkDone'> };
  destroy(...buffers: GPUBuffer[]): void;
  checkErrors?(): void;
}

export interface TensorUploaderOptions {
  /** Wait for the GPU queue after this many bytes of writes, so writes cannot pile up. Default 64 MiB. */
  flushEveryBytes?: number;
  /**
   * Check every tensor that has a `type` for NaN and infinities (values, or GGML blocks' f16 scales) on this GPU,
   * as it completes; finish() throws a NonFiniteWeightError naming the first bad one.
   */
  checkFinite?: Gpu;
}

/** A weight holds NaN or an infinity: named with the value, or the GGML block, where it first does. */
export class NonFiniteWeightError extends Error {
  constructor(readonly tensor: string, readonly type: GgmlType, readonly index: number) {
    const where = blockSize(type) === 1
      ? `value ${index} is NaN or infinite`
      : `block ${index} (values ${index * blockSize(type)}..${(index + 1) * blockSize(type) - 1}) has a NaN or infinite f16 scale`;
    super(`tensor "${tensor}" (${type}) is not finite: its ${where}. The file is damaged, or was written from a model that diverged.`);
    this.name = 'NonFiniteWeightError';
  }
}

/** The finite check of one upload: a u32 per checked tensor, written by the kernel, read once at the end. */
class UploadFiniteCheck {
  private readonly firstBad: GPUBuffer;
  private readonly slots = new Map<TensorPlacement, number>();
  private waiting: TensorPlacement[] = [];

  constructor(private readonly gpu: Gpu, private readonly tensors: readonly TensorPlacement[]) {
    tensors.forEach((t, slot) => this.slots.set(t, slot));
    this.firstBad = gpu.upload('finite_check.first_bad', new Uint32Array(Math.max(1, tensors.length)).fill(ALL_FINITE));
  }

  /** The tensor's bytes are all written (its check runs at the next flush). */
  completed(tensor: TensorPlacement): void {
    if (this.slots.has(tensor)) this.waiting.push(tensor);
  }

  /** Submits the checks of the tensors completed since the last flush, after their writes in queue order. */
  flush(): void {
    if (this.waiting.length === 0) return;
    const encoder = this.gpu.device.createCommandEncoder();
    for (const t of this.waiting) {
      const type = t.type as GgmlType;
      const elements = ((t.end - t.begin) / blockBytes(type)) * blockSize(type);
      findNonFinite(this.gpu, encoder, { buffer: t.buffer, byteOffset: t.bufferOffset, type, elements, firstBad: this.firstBad, slot: this.slots.get(t) as number, label: `finite:${t.name}` });
    }
    this.gpu.device.queue.submit([encoder.finish()]);
    this.waiting = [];
  }

  /** Throws for the first tensor (in file order) that is not finite. */
  async check(): Promise<void> {
    this.flush();
    const firstBad = new Uint32Array(await this.gpu.read(this.firstBad, this.tensors.length * 4));
    const bad = this.tensors.findIndex((_, slot) => firstBad[slot] !== ALL_FINITE);
    if (bad >= 0) throw new NonFiniteWeightError(this.tensors[bad].name, this.tensors[bad].type as GgmlType, firstBad[bad]);
  }

  destroy(): void {
    this.gpu.destroy(this.firstBad);
  }
}

const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Consumes a file's chunks in order and writes each tensor of the plan into its buffer with
 * queue.writeBuffer as its bytes arrive. writeBuffer needs 4-byte aligned offsets and sizes: the 1-3 bytes
 * of a tensor that end a chunk wait for the next chunk, and a tensor's last partial word is zero-padded.
 * Bytes that no tensor covers are skipped; chunks may leave gaps there.
 */
export class TensorUploader {
  private readonly tensors: TensorPlacement[];
  /** Index of the first tensor not yet complete. */
  private next = 0;
  /** Bytes of tensors[next] written to its buffer (a multiple of 4), and the 0-3 bytes waiting. */
  private written = 0;
  private readonly pending = new Uint8Array(4);
  private pendingLength = 0;
  /** End of the last chunk. */
  private position = 0;
  private sinceFlush = 0;
  private aborted = false;
  private readonly flushEveryBytes: number;
  private readonly finite: UploadFiniteCheck | null;
  bytesUploaded = 0;

  constructor(
    private readonly gpu: UploadGpu,
    plan: readonly TensorPlacement[],
    options: TensorUploaderOptions = {},
  ) {
    this.flushEveryBytes = options.flushEveryBytes ?? 64 * 1024 * 1024;
    this.tensors = [...plan].sort((a, b) => a.begin - b.begin);
    checkPlan(this.tensors);
    const typed = this.tensors.filter((t) => t.type !== undefined && t.end > t.begin);
    this.finite = options.checkFinite && typed.length > 0 ? new UploadFiniteCheck(options.checkFinite, typed) : null;
    this.skipEmptyTensors();
  }

  /** True once every tensor of the plan is complete. */
  get done(): boolean {
    return this.next === this.tensors.length;
  }

  /** Feeds the file bytes [offset, offset + chunk.length). Offsets must not go back. */
  async push(chunk: Uint8Array, offset: number): Promise<void> {
    if (this.aborted) throw new Error('TensorUploader: push after abort()');
    if (offset < this.position) {
      throw new Error(`TensorUploader: chunk at byte ${offset} comes after byte ${this.position}; chunks must arrive in order`);
    }
    const chunkEnd = offset + chunk.length;
    while (this.next < this.tensors.length) {
      const tensor = this.tensors[this.next];
      const consumed = tensor.begin + this.written + this.pendingLength; // file offset of the next byte wanted
      if (consumed < offset) {
        throw new Error(
          `TensorUploader: bytes ${consumed}..${Math.min(offset, tensor.end)} of tensor "${tensor.name}" never arrived`,
        );
      }
      if (consumed >= chunkEnd) break;
      const to = Math.min(tensor.end, chunkEnd);
      this.feed(tensor, chunk.subarray(consumed - offset, to - offset));
      if (to < tensor.end) break;
      this.completeTensor(tensor);
    }
    this.position = chunkEnd;
    this.finite?.flush();
    if (this.sinceFlush >= this.flushEveryBytes) {
      this.sinceFlush = 0;
      await this.gpu.device.queue.onSubmittedWorkDone();
    }
  }

  /** Waits for the writes and checks that every tensor arrived; throws naming the first missing one. */
  async finish(): Promise<void> {
    if (this.aborted) throw new Error('TensorUploader: finish after abort()');
    if (!this.done) {
      const tensor = this.tensors[this.next];
      const have = this.written + this.pendingLength;
      throw new Error(
        `TensorUploader: tensor "${tensor.name}" got ${have} of ${tensor.end - tensor.begin} bytes ` +
          `(${this.tensors.length - this.next} tensors incomplete; the file ended at byte ${this.position})`,
      );
    }
    await this.gpu.device.queue.onSubmittedWorkDone();
    this.gpu.checkErrors?.();
    if (this.finite) {
      try {
        await this.finite.check();
      } finally {
        this.finite.destroy();
      }
    }
  }

  /** Destroys every buffer of the plan: after a failure no partly loaded buffer stays allocated. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.finite?.destroy();
    this.gpu.destroy(...new Set(this.tensors.map((t) => t.buffer)));
  }

  private feed(tensor: TensorPlacement, bytes: Uint8Array): void {
    const queue = this.gpu.device.queue;
    let data = bytes;
    if (this.pendingLength > 0) {
      const take = Math.min(4 - this.pendingLength, data.length);
      this.pending.set(data.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      data = data.subarray(take);
      if (this.pendingLength < 4) return;
      queue.writeBuffer(tensor.buffer, tensor.bufferOffset + this.written, this.pending, 0, 4);
      this.written += 4;
      this.pendingLength = 0;
      this.counted(4);
    }
    const aligned = data.length - (data.length % 4);
    if (aligned > 0) {
      queue.writeBuffer(tensor.buffer, tensor.bufferOffset + this.written, data, 0, aligned);
      this.written += aligned;
      this.counted(aligned);
    }
    if (aligned < data.length) {
      this.pending.set(data.subarray(aligned));
      this.pendingLength = data.length - aligned;
    }
  }

  private completeTensor(tensor: TensorPlacement): void {
    if (this.pendingLength > 0) {
      this.pending.fill(0, this.pendingLength);
      this.gpu.device.queue.writeBuffer(tensor.buffer, tensor.bufferOffset + this.written, this.pending, 0, 4);
      this.counted(this.pendingLength);
    }
    this.finite?.completed(tensor);
    this.next += 1;
    this.written = 0;
    this.pendingLength = 0;
    this.skipEmptyTensors();
  }

  private skipEmptyTensors(): void {
    while (this.next < this.tensors.length && this.tensors[this.next].end === this.tensors[this.next].begin) this.next += 1;
  }

  private counted(bytes: number): void {
    this.bytesUploaded += bytes;
    this.sinceFlush += bytes;
  }
}

/** Tensors (sorted by begin) must not overlap in the file, nor, rounded up to 4 bytes, in their buffers. */
function checkPlan(tensors: readonly TensorPlacement[]): void {
  const byBuffer = new Map<GPUBuffer, TensorPlacement[]>();
  let previous: TensorPlacement | null = null;
  for (const t of tensors) {
    if (!(Number.isSafeInteger(t.begin) && Number.isSafeInteger(t.end) && t.begin >= 0 && t.end >= t.begin)) {
      throw new Error(`TensorUploader: tensor "${t.name}" has the bad file range [${t.begin}, ${t.end})`);
    }
    if (previous && t.begin < previous.end) {
      throw new Error(`TensorUploader: tensors "${previous.name}" and "${t.name}" overlap in the file`);
    }
    if (t.bufferOffset % 4 !== 0 || t.bufferOffset < 0) {
      throw new Error(`TensorUploader: tensor "${t.name}" starts at buffer byte ${t.bufferOffset}, not a multiple of 4`);
    }
    if (t.bufferOffset + ceil4(t.end - t.begin) > t.buffer.size) {
      throw new Error(
        `TensorUploader: tensor "${t.name}" (${t.end - t.begin} bytes at ${t.bufferOffset}) does not fit in ` +
          `its ${t.buffer.size}-byte buffer`,
      );
    }
    const list = byBuffer.get(t.buffer) ?? [];
    list.push(t);
    byBuffer.set(t.buffer, list);
    previous = t;
  }
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.bufferOffset - b.bufferOffset);
    for (let i = 1; i < list.length; i++) {
      const before = list[i - 1];
      if (before.bufferOffset + ceil4(before.end - before.begin) > list[i].bufferOffset) {
        throw new Error(`TensorUploader: tensors "${before.name}" and "${list[i].name}" overlap in their buffer`);
      }
    }
  }
}

/** The safetensors dtypes the finite check reads (others are uploaded unchecked). */
const SAFETENSORS_FLOAT_TYPES: Partial<Record<string, GgmlType>> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };

export interface SafetensorsToGpuOptions extends TensorUploaderOptions {
  /** Which tensors to load (default all). */
  include?: (info: SafetensorsTensorInfo) => boolean;
}

/** What SafetensorsToGpu needs of the GPU layer (the Gpu class has it). */
export interface AllocatingGpu extends UploadGpu {
  buffer(label: string, size: number): GPUBuffer;
}

/**
 * Streams a safetensors file into one GPU buffer per tensor, holding the raw bytes (dtype as in the file):
 * it collects and parses the header from the first chunks, allocates the buffers, then uploads.
 */
export class SafetensorsToGpu {
  private headerBytes: Uint8Array | null = new Uint8Array(0);
  private uploader: TensorUploader | null = null;
  private parsed: SafetensorsHeader | null = null;
  private readonly buffers = new Map<string, GPUBuffer>();
  private aborted = false;

  constructor(
    private readonly gpu: AllocatingGpu,
    private readonly fileSize: number,
    private readonly options: SafetensorsToGpuOptions = {},
  ) {}

  async push(chunk: Uint8Array, offset: number): Promise<void> {
    if (this.aborted) throw new Error('SafetensorsToGpu: push after abort()');
    if (this.uploader) return this.uploader.push(chunk, offset);
    let bytes = this.headerBytes as Uint8Array;
    if (offset !== bytes.length) throw new Error(`SafetensorsToGpu: expected the chunk at byte ${bytes.length}, got ${offset}`);
    // The first 8 bytes give the header's length N; the header ends at byte 8 + N.
    const headerEnd = (collected: Uint8Array) => (collected.length >= 8 ? 8 + headerByteLength(collected) : 8);
    let used = 0;
    while (used < chunk.length && bytes.length < headerEnd(bytes)) {
      const take = Math.min(headerEnd(bytes) - bytes.length, chunk.length - used);
      const grown = new Uint8Array(bytes.length + take);
      grown.set(bytes);
      grown.set(chunk.subarray(used, used + take), bytes.length);
      bytes = grown;
      used += take;
    }
    this.headerBytes = bytes;
    if (bytes.length < headerEnd(bytes)) return;
    const uploader = this.start(bytes);
    this.headerBytes = null;
    if (used < chunk.length) await uploader.push(chunk.subarray(used), offset + used);
  }

  async finish(): Promise<{ header: SafetensorsHeader; buffers: Map<string, GPUBuffer> }> {
    if (!this.uploader || !this.parsed) throw new Error('SafetensorsToGpu: the file ended inside its header');
    await this.uploader.finish();
    return { header: this.parsed, buffers: this.buffers };
  }

  /** Destroys every buffer allocated so far. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    if (this.uploader) this.uploader.abort();
    else this.gpu.destroy(...this.buffers.values());
  }

  private start(headerBytes: Uint8Array): TensorUploader {
    const header = parseSafetensorsHeader(headerBytes, this.fileSize);
    const plan: TensorPlacement[] = [];
    try {
      for (const info of header.tensors.values()) {
        if (this.options.include && !this.options.include(info)) continue;
        const buffer = this.gpu.buffer(info.name, info.end - info.begin);
        this.buffers.set(info.name, buffer);
        const type = SAFETENSORS_FLOAT_TYPES[info.dtype];
        plan.push({ name: info.name, begin: header.dataOffset + info.begin, end: header.dataOffset + info.end, buffer, bufferOffset: 0, ...(type && { type }) });
      }
    } catch (error) {
      this.abort();
      throw error;
    }
    this.parsed = header;
    this.uploader = new TensorUploader(this.gpu, plan, this.options);
    return this.uploader;
  }
}
