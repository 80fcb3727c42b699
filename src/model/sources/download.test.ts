import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileServer, startFileServer } from '../../../e2e/file-server';
import { DownloadError, type StreamFileOptions, isCancelled, streamFile } from './download';
import type { TransferProgress } from './progress';
import { fixtureBytes } from './files.testing';

const FILE = fixtureBytes(300_001, 11);

/** The reference digest: crypto.subtle (Node's webcrypto) over the whole buffer. */
async function subtleSha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
let SHA256: string;

let server: FileServer;
let cdn: FileServer;

beforeAll(async () => {
  SHA256 = await subtleSha256(FILE);
  cdn = await startFileServer({ '/blob': { body: FILE } }, { maxRequests: 50, lifetimeMs: 60_000 });
  server = await startFileServer(
    {
      '/file': { body: FILE },
      '/redirect': { redirectTo: `${cdn.url}/blob?sig=abc` },
      '/private': { body: FILE, token: 'hf_secret' },
      '/drop': { body: FILE, dropAfterBytes: 100_000 },
      '/drop-no-ranges': { body: FILE, dropAfterBytes: 100_000, ranges: false },
      '/always-drop': { body: FILE, dropAfterBytes: 1000, dropAlways: true, ranges: false },
      '/slow': { body: FILE, pieceBytes: 8192, delayMs: 10 },
      '/error500': { status: 500, body: 'oops' },
    },
    { maxRequests: 200, lifetimeMs: 60_000 },
  );
});

afterAll(async () => {
  await Promise.all([server.close(), cdn.close()]);
});

/** Downloads into memory (fine for these small files) and checks that chunks arrive in order. */
async function download(options: Omit<StreamFileOptions, 'onChunk'>) {
  const chunks: Uint8Array[] = [];
  let expectedOffset = 0;
  const progress: TransferProgress[] = [];
  const result = await streamFile({
    ...options,
    onProgress: (p) => progress.push(p),
    onChunk: (chunk, offset) => {
      expect(offset).toBe(expectedOffset);
      expectedOffset += chunk.length;
      chunks.push(chunk.slice());
    },
  });
  const bytes = new Uint8Array(expectedOffset);
  let position = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, position);
    position += chunk.length;
  }
  return { result, bytes, progress, chunks };
}

/** Byte equality without vitest's slow deep comparison of large arrays. */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

const requestsTo = (path: string) => server.requests.filter((r) => r.path === path);

describe('streamFile', () => {
  it('streams a file in chunks with monotone progress and the right total', async () => {
    const { result, bytes, progress, chunks } = await download({ url: `${server.url}/file`, computeSha256: true });
    expect(result.size).toBe(FILE.length);
    expect(sameBytes(bytes, FILE)).toBe(true);
    expect(result.sha256).toBe(SHA256);
    expect(chunks.length).toBeGreaterThan(1);
    expect(progress.length).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++) expect(progress[i].loaded).toBeGreaterThanOrEqual(progress[i - 1].loaded);
    for (const p of progress) {
      expect(p.total).toBe(FILE.length);
      expect(p.bytesPerSecond).toBeGreaterThanOrEqual(0);
    }
    expect(progress.at(-1)).toMatchObject({ loaded: FILE.length, total: FILE.length, etaSeconds: 0 });
  });

  it('checks the expected sha256 and size', async () => {
    await expect(download({ url: `${server.url}/file`, expectedSha256: SHA256 })).resolves.toBeTruthy();
    await expect(download({ url: `${server.url}/file`, expectedSha256: '0'.repeat(64) })).rejects.toThrow(/does not match/);
    await expect(download({ url: `${server.url}/file`, expectedSize: 1234 })).rejects.toThrow(/sends 300001 bytes, expected 1234/);
  });

  it('follows a redirect to another origin without sending the token there', async () => {
    const { bytes } = await download({ url: `${server.url}/redirect`, token: 'hf_secret' });
    expect(sameBytes(bytes, FILE)).toBe(true);
    expect(requestsTo('/redirect').at(-1)?.authorization).toBe('Bearer hf_secret');
    const cdnRequest = cdn.requests.at(-1);
    expect(cdnRequest?.path).toBe('/blob');
    expect(cdnRequest?.authorization).toBeUndefined();
  });

  it('sends the token as a Bearer header, and explains 401, 403 and 404', async () => {
    const { bytes } = await download({ url: `${server.url}/private`, token: 'hf_secret' });
    expect(sameBytes(bytes, FILE)).toBe(true);
    await expect(download({ url: `${server.url}/private` })).rejects.toThrow(/HTTP 401: gated or private repo: log in and accept the license, then give a token/);
    const refused = download({ url: `${server.url}/private`, token: 'hf_wrong' });
    await expect(refused).rejects.toThrow(/HTTP 403: the token was refused/);
    await expect(refused).rejects.not.toThrow(/hf_wrong/);
    const missing = download({ url: `${server.url}/nothing-here` }).catch((e: unknown) => e);
    expect(await missing).toBeInstanceOf(DownloadError);
    expect(await missing).toMatchObject({ status: 404, message: expect.stringMatching(/nothing-here: HTTP 404: not found/) });
    for (const request of server.requests) expect(request.path).not.toMatch(/hf_/);
  });

  it('resumes with a Range request when the connection drops mid-file', async () => {
    const before = requestsTo('/drop').length;
    const { bytes, progress, result } = await download({ url: `${server.url}/drop`, retryDelayMs: 10, computeSha256: true });
    expect(sameBytes(bytes, FILE)).toBe(true);
    expect(result.sha256).toBe(SHA256);
    const requests = requestsTo('/drop').slice(before);
    expect(requests.length).toBe(2);
    expect(requests[0].range).toBeUndefined();
    expect(requests[1].range).toMatch(/^bytes=\d+-$/);
    expect(Number(requests[1].range?.slice(6, -1))).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++) expect(progress[i].loaded).toBeGreaterThanOrEqual(progress[i - 1].loaded);
    expect(progress.at(-1)?.loaded).toBe(FILE.length);
  });

  it('skips the bytes it already has when the server ignores Range', async () => {
    const before = requestsTo('/drop-no-ranges').length;
    const { bytes, result } = await download({ url: `${server.url}/drop-no-ranges`, retryDelayMs: 10, computeSha256: true });
    expect(sameBytes(bytes, FILE)).toBe(true);
    expect(result.sha256).toBe(SHA256);
    const requests = requestsTo('/drop-no-ranges').slice(before);
    expect(requests.length).toBe(2);
    expect(requests[1].range).toMatch(/^bytes=\d+-$/);
  });

  it('gives up after maxRetries failed attempts in a row', async () => {
    const before = requestsTo('/always-drop').length;
    await expect(download({ url: `${server.url}/always-drop`, maxRetries: 2, retryDelayMs: 5 })).rejects.toThrow(/gave up after 2 retries/);
    // The first attempt delivers 1000 bytes; the server ignores Range, so the 2 retries deliver nothing new.
    expect(requestsTo('/always-drop').length - before).toBe(3);
    const before500 = requestsTo('/error500').length;
    await expect(download({ url: `${server.url}/error500`, maxRetries: 1, retryDelayMs: 5 })).rejects.toThrow(/HTTP 500.*gave up/);
    expect(requestsTo('/error500').length - before500).toBe(2);
  });

  it('retries when the server cannot be reached, then fails clearly', async () => {
    const dead = await startFileServer({});
    const url = `${dead.url}/file`;
    await dead.close();
    await expect(download({ url, maxRetries: 1, retryDelayMs: 5 })).rejects.toThrow(/could not connect.*gave up after 1 retries/);
  });

  it('cancels through an AbortSignal with an AbortError "download cancelled"', async () => {
    const controller = new AbortController();
    let received = 0;
    const run = streamFile({
      url: `${server.url}/slow`,
      signal: controller.signal,
      onChunk: (chunk) => {
        received += chunk.length;
        if (received > 20_000) controller.abort();
      },
    });
    const error = await run.catch((e: unknown) => e);
    expect(isCancelled(error)).toBe(true);
    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).message).toBe('download cancelled');
    expect(received).toBeLessThan(FILE.length);
  });

  it('cancels while waiting to retry', async () => {
    const controller = new AbortController();
    const run = streamFile({ url: `${server.url}/error500`, signal: controller.signal, retryDelayMs: 5000, onChunk: () => {} });
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const error = await run.catch((e: unknown) => e);
    expect(isCancelled(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('does not retry when onChunk fails', async () => {
    const before = requestsTo('/file').length;
    const run = streamFile({ url: `${server.url}/file`, onChunk: () => Promise.reject(new Error('GPU is gone')) });
    await expect(run).rejects.toThrow('GPU is gone');
    expect(requestsTo('/file').length - before).toBe(1);
  });
});

type RangeMode = 'honoured' | 'starts-earlier' | 'ignored';

/**
 * A fetch serving `bytes` from memory in pieces of the sizes in `pieces` (cycled). The n-th response's body
 * fails after `dropAfter[n]` of its bytes. `mode` is how a Range request is answered: 206 from the asked
 * byte, 206 from 12345 bytes earlier (bytes the client already has), or 200 with the whole file.
 */
function memoryFetch(bytes: Uint8Array, pieces: number[], dropAfter: number[], mode: RangeMode) {
  const ranges: (string | undefined)[] = [];
  const fetchFn: typeof fetch = async (_url, init) => {
    const range = (init?.headers as Record<string, string> | undefined)?.Range;
    ranges.push(range);
    const asked = range ? Number(/^bytes=(\d+)-$/.exec(range)?.[1]) : 0;
    const start = !range || mode === 'ignored' ? 0 : mode === 'honoured' ? asked : Math.max(0, asked - 12_345);
    const body = bytes.subarray(start);
    const dropAt = dropAfter[ranges.length - 1] ?? Infinity;
    let position = 0;
    let piece = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (position >= dropAt) return controller.error(new TypeError('connection reset'));
        if (position >= body.length) return controller.close();
        const end = Math.min(body.length, dropAt, position + pieces[piece++ % pieces.length]);
        controller.enqueue(body.slice(position, end));
        position = end;
      },
    });
    const headers: Record<string, string> = { 'content-length': String(body.length) };
    if (range && mode !== 'ignored') headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    return new Response(stream, { status: range && mode !== 'ignored' ? 206 : 200, headers });
  };
  return { fetchFn, ranges };
}

describe('streamFile sha256', () => {
  it('hashes a file sent in many small pieces of odd sizes', async () => {
    const { fetchFn } = memoryFetch(FILE, [1, 63, 64, 65, 4099, 777], [], 'honoured');
    const { result, bytes, chunks } = await download({ url: 'memory://file', fetch: fetchFn, computeSha256: true });
    expect(chunks.length).toBeGreaterThan(150);
    expect(sameBytes(bytes, FILE)).toBe(true);
    expect(result).toEqual({ size: FILE.length, sha256: SHA256 });
  });

  it.each<RangeMode>(['honoured', 'starts-earlier', 'ignored'])(
    'hashes exactly the delivered bytes across two dropped connections (Range %s)',
    async (mode) => {
      const { fetchFn, ranges } = memoryFetch(FILE, [4099, 1000], [100_003, 170_000], mode);
      const received = new Uint8Array(FILE.length);
      let next = 0;
      const result = await streamFile({
        url: 'memory://file',
        fetch: fetchFn,
        expectedSha256: SHA256,
        retryDelayMs: 1,
        onChunk: (chunk, offset) => {
          expect(offset).toBe(next);
          received.set(chunk, offset);
          next += chunk.length;
          chunk.fill(0); // the consumer may reuse the chunk's memory: the hash must not depend on it
        },
      });
      expect(result).toEqual({ size: FILE.length, sha256: SHA256 });
      expect(sameBytes(received, FILE)).toBe(true);
      expect(ranges.length).toBe(3);
      expect(ranges[0]).toBeUndefined();
      expect(ranges[1]).toBe('bytes=100003-');
      const resumedAt = { honoured: 270_003, 'starts-earlier': 100_003 - 12_345 + 170_000, ignored: 170_000 }[mode];
      expect(ranges[2]).toBe(`bytes=${resumedAt}-`);
    },
  );

  it('rejects a resumed download whose bytes do not hash to the expected sha256', async () => {
    const damaged = FILE.slice();
    damaged[200_000] ^= 1;
    const { fetchFn } = memoryFetch(damaged, [4099], [100_003], 'honoured');
    // The expected message first: awaiting it after starting the download would leave the rejection unhandled a while.
    const message = new RegExp(`sha256 ${await subtleSha256(damaged)} does not match the expected ${SHA256}`);
    const run = streamFile({ url: 'memory://file', fetch: fetchFn, expectedSha256: SHA256, retryDelayMs: 1, onChunk: () => {} });
    await expect(run).rejects.toThrow(message);
  });
});
