// Streams one file over HTTP chunk by chunk, resuming with Range requests when the connection drops.
// The whole file is never held in memory; the SHA-256, when asked for, is computed as the chunks arrive.
import { sha256 } from '@noble/hashes/sha2.js';
import { ProgressMeter, type ProgressCallback } from './progress';
import { errorMessage } from '../../util/errors';

export interface StreamFileOptions {
  url: string;
  /** Sent as `Authorization: Bearer <token>`; browsers and Node drop it on redirects to another origin. */
  token?: string;
  signal?: AbortSignal;
  /** When given, a server announcing another size is an error. */
  expectedSize?: number;
  /** Lowercase hex; a file with another digest is an error (after all its chunks went to onChunk). */
  expectedSha256?: string;
  /** Hash the file and return the digest. */
  computeSha256?: boolean;
  onProgress?: ProgressCallback;
  /** Receives the file's bytes in order; `offset` is where the chunk starts in the file. Awaited. */
  onChunk: (chunk: Uint8Array, offset: number) => void | Promise<void>;
  /** Failed attempts in a row before giving up (an attempt that delivered bytes resets the count). Default 5. */
  maxRetries?: number;
  /** First retry delay, doubled after each failure up to 10 s. Default 500 ms. */
  retryDelayMs?: number;
  fetch?: typeof fetch;
}

export interface StreamFileResult {
  size: number;
  /** Lowercase hex, when the file was hashed. */
  sha256?: string;
}

/** An HTTP failure that retrying will not fix, or the last of the failures that retries did not fix. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** The error for a cancelled transfer: a DOMException named AbortError, message "download cancelled". */
export function cancelledError(): DOMException {
  return new DOMException('download cancelled', 'AbortError');
}

export function isCancelled(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'AbortError';
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}

/** What to tell the user about a failed HTTP status. */
export function describeHttpStatus(status: number, what: string, hasToken: boolean): string {
  if (status === 401 || status === 403) {
    const hint = hasToken
      ? 'the token was refused: check that it is valid and that its account accepted the license'
      : 'gated or private repo: log in and accept the license, then give a token';
    return `${what}: HTTP ${status}: ${hint}`;
  }
  if (status === 404) return `${what}: HTTP 404: not found`;
  if (status === 416) return `${what}: HTTP 416: the server refused the byte range`;
  return `${what}: HTTP ${status}`;
}

const isRetryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** Thrown inside an attempt for failures that retrying may fix. */
class TransientError extends Error {}

/** `bytes start-end/total` (total may be `*`). */
function parseContentRange(header: string | null): { start: number; total?: number } | null {
  const match = header?.match(/^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i);
  if (!match) return null;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An incremental SHA-256: `update(chunk)` as bytes arrive (it keeps no chunk), `digest()` once at the end. */
export type Sha256Hasher = ReturnType<typeof sha256.create>;

export const createSha256 = (): Sha256Hasher => sha256.create();

/** Lowercase hex of a digest. */
export function hexOfDigest(digest: Uint8Array): string {
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** SHA-256 of bytes in memory (short data: names, keys), as lowercase hex. */
export function sha256Hex(data: Uint8Array): string {
  return hexOfDigest(sha256(data));
}

export async function streamFile(options: StreamFileOptions): Promise<StreamFileResult> {
  const { url, token, signal, expectedSize, onChunk } = options;
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const maxRetries = options.maxRetries ?? 5;
  const firstDelay = options.retryDelayMs ?? 500;
  const wantHash = Boolean(options.computeSha256 || options.expectedSha256);
  const meter = new ProgressMeter(expectedSize ?? 0, options.onProgress);

  let delivered = 0; // bytes handed to onChunk so far
  let total: number | undefined = expectedSize;
  const hasher = wantHash ? createSha256() : null; // covers exactly the bytes given to onChunk
  let failures = 0;
  let lastError: unknown = null;

  const learnTotal = (size: number) => {
    if (total !== undefined && size !== total) {
      const source = expectedSize !== undefined ? 'expected' : 'announced before';
      throw new DownloadError(`${url}: the server sends ${size} bytes, ${source} ${total}`, url);
    }
    total = size;
    meter.setTotal(size);
  };

  /** One request from `delivered` on. Returns when the body ended; throws TransientError to retry. */
  const attempt = async (): Promise<void> => {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (delivered > 0) headers.Range = `bytes=${delivered}-`;
    let response: Response;
    try {
      response = await fetchFn(url, { headers, signal, redirect: 'follow', cache: 'no-store' });
    } catch (error) {
      throwIfCancelled(signal);
      throw new TransientError(`could not connect: ${(error as Error).message}`);
    }
    if (!response.ok) {
      void response.body?.cancel().catch(() => {});
      const message = describeHttpStatus(response.status, url, Boolean(token));
      if (isRetryableStatus(response.status)) throw new TransientError(message);
      throw new DownloadError(message, url, response.status);
    }

    let skip = 0; // bytes at the body's start that were already delivered
    const length = response.headers.get('content-length');
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      const start = range?.start ?? delivered; // Content-Range unreadable (not exposed by CORS): trust the request
      if (start > delivered) throw new DownloadError(`${url}: asked for bytes from ${delivered}, got from ${start}`, url);
      skip = delivered - start;
      if (range?.total !== undefined) learnTotal(range.total);
      else if (length !== null && !encoded) learnTotal(start + Number(length));
    } else {
      skip = delivered; // the server ignored Range (or this is the first request): the body starts at byte 0
      if (length !== null && !encoded) learnTotal(Number(length));
    }
    if (!response.body) throw new DownloadError(`${url}: the response has no body`, url);

    const reader = response.body.getReader();
    try {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          throwIfCancelled(signal);
          throw new TransientError(`connection lost after ${delivered} bytes: ${(error as Error).message}`);
        }
        if (result.done) break;
        let chunk = result.value;
        if (skip > 0) {
          const dropped = Math.min(skip, chunk.length);
          skip -= dropped;
          chunk = chunk.subarray(dropped);
          if (chunk.length === 0) continue;
        }
        if (total !== undefined && delivered + chunk.length > total) {
          throw new DownloadError(`${url}: the server sent more than the ${total} bytes it announced`, url);
        }
        hasher?.update(chunk); // before onChunk, which may detach or reuse the chunk's buffer
        await onChunk(chunk, delivered);
        delivered += chunk.length;
        failures = 0;
        meter.update(delivered);
        throwIfCancelled(signal);
      }
    } finally {
      reader.releaseLock();
    }
    if (total !== undefined && delivered < total) {
      throw new TransientError(`the connection ended after ${delivered} of ${total} bytes`);
    }
  };

  for (;;) {
    throwIfCancelled(signal);
    try {
      await attempt();
      break;
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      lastError = error;
      failures += 1;
      if (failures > maxRetries) {
        throw new DownloadError(`${url}: ${errorMessage(lastError)} (gave up after ${maxRetries} retries)`, url);
      }
      await sleep(Math.min(firstDelay * 2 ** (failures - 1), 10_000), signal);
    }
  }

  meter.setTotal(delivered);
  meter.update(delivered, true);
  const digest = hasher ? hexOfDigest(hasher.digest()) : undefined;
  const expected = options.expectedSha256?.toLowerCase();
  if (digest && expected && digest !== expected) {
    throw new DownloadError(`${url}: sha256 ${digest} does not match the expected ${expected}`, url);
  }
  return { size: delivered, sha256: digest };
}
