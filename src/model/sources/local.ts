// A local File or Blob (file picker, drag and drop) as a streamed source, with the same chunk and progress
// callbacks as a download.
import { createSha256, hexOfDigest, throwIfCancelled } from './download';
import { ProgressMeter, type ProgressCallback } from './progress';

export interface StreamBlobOptions {
  blob: Blob;
  /** Byte range to read, end exclusive; default the whole blob. */
  start?: number;
  end?: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  /** `offset` is where the chunk starts in the blob (not in the range). Awaited. */
  onChunk: (chunk: Uint8Array, offset: number) => void | Promise<void>;
  /** Hash the range (as it streams) and return the digest. */
  computeSha256?: boolean;
}

/** Reads a byte range of a blob into memory: for headers and other small parts. */
export async function readBlobRange(blob: Blob, start: number, end: number): Promise<Uint8Array> {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

export async function streamBlob(options: StreamBlobOptions): Promise<{ size: number; sha256?: string }> {
  const { blob } = options;
  const start = Math.max(0, options.start ?? 0);
  const end = Math.min(blob.size, options.end ?? blob.size);
  if (end < start) throw new Error(`streamBlob: range [${start}, ${end}) is reversed`);
  throwIfCancelled(options.signal);
  return streamReadable({ ...options, stream: blob.slice(start, end).stream(), size: end - start, start });
}

export interface StreamReadableOptions {
  stream: ReadableStream<Uint8Array>;
  /** Bytes the stream should give; a different count is an error. */
  size: number;
  /** File offset of the stream's first byte (default 0). */
  start?: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  onChunk: (chunk: Uint8Array, offset: number) => void | Promise<void>;
  computeSha256?: boolean;
}

/** Pumps a byte stream into onChunk with progress; cancels the stream on failure or cancel. */
export async function streamReadable(options: StreamReadableOptions): Promise<{ size: number; sha256?: string }> {
  const { stream, size, signal, onChunk } = options;
  const start = options.start ?? 0;
  const meter = new ProgressMeter(size, options.onProgress);
  const hasher = options.computeSha256 ? createSha256() : null;
  const reader = stream.getReader();
  let loaded = 0;
  try {
    for (;;) {
      throwIfCancelled(signal);
      const { done, value } = await reader.read();
      if (done) break;
      hasher?.update(value); // before onChunk, which may detach or reuse the chunk's buffer
      await onChunk(value, start + loaded);
      loaded += value.length;
      meter.update(loaded);
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
  if (loaded !== size) throw new Error(`read ${loaded} bytes, expected ${size} (did the file change?)`);
  meter.update(loaded, true);
  return { size, sha256: hasher ? hexOfDigest(hasher.digest()) : undefined };
}
