import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCancelled } from './download';
import { readBlobRange, streamBlob, streamReadable } from './local';
import type { TransferProgress } from './progress';
import { fixtureBytes } from './files.testing';

const BYTES = fixtureBytes(200_003, 9);
const blob = new Blob([BYTES]);

/** The reference digest: crypto.subtle (Node's webcrypto) over the whole buffer. */
async function subtleSha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

describe('streamBlob', () => {
  it('streams a whole blob in order with progress and an optional sha256', async () => {
    const progress: TransferProgress[] = [];
    const received = new Uint8Array(BYTES.length);
    let next = 0;
    const result = await streamBlob({
      blob,
      computeSha256: true,
      onProgress: (p) => progress.push(p),
      onChunk: (chunk, offset) => {
        expect(offset).toBe(next);
        received.set(chunk, offset);
        next += chunk.length;
      },
    });
    expect(result).toEqual({ size: BYTES.length, sha256: await subtleSha256(BYTES) });
    expect(Buffer.from(received).equals(BYTES)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ loaded: BYTES.length, total: BYTES.length, etaSeconds: 0 });
    for (let i = 1; i < progress.length; i++) expect(progress[i].loaded).toBeGreaterThanOrEqual(progress[i - 1].loaded);
  });

  it('streams a byte range, with offsets in the blob', async () => {
    const offsets: number[] = [];
    let total = 0;
    const result = await streamBlob({
      blob,
      start: 1001,
      end: 150_000,
      computeSha256: true,
      onChunk: (chunk, offset) => {
        expect(Buffer.from(chunk).equals(BYTES.subarray(offset, offset + chunk.length))).toBe(true);
        offsets.push(offset);
        total += chunk.length;
      },
    });
    expect(result.size).toBe(150_000 - 1001);
    expect(total).toBe(result.size);
    expect(offsets[0]).toBe(1001);
    expect(result.sha256).toBe(await subtleSha256(BYTES.slice(1001, 150_000)));
    expect(Array.from(await readBlobRange(blob, 5, 9))).toEqual(Array.from(BYTES.subarray(5, 9)));
  });

  it('cancels through an AbortSignal', async () => {
    const controller = new AbortController();
    const run = streamBlob({ blob, signal: controller.signal, onChunk: () => controller.abort() });
    const error = await run.catch((e: unknown) => e);
    expect(isCancelled(error)).toBe(true);
    expect((error as Error).message).toBe('download cancelled');
  });
});

describe('streamReadable', () => {
  it('hashes a stream of many pieces of odd sizes as they pass, even when the consumer reuses them', async () => {
    const pieces = [1, 63, 64, 65, 4099, 777];
    let position = 0;
    let piece = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (position >= BYTES.length) return controller.close();
        const end = Math.min(BYTES.length, position + pieces[piece++ % pieces.length]);
        controller.enqueue(BYTES.slice(position, end));
        position = end;
      },
    });
    let chunks = 0;
    const result = await streamReadable({
      stream,
      size: BYTES.length,
      computeSha256: true,
      onChunk: (chunk) => {
        chunks += 1;
        chunk.fill(0);
      },
    });
    expect(chunks).toBeGreaterThan(100);
    expect(result).toEqual({ size: BYTES.length, sha256: await subtleSha256(BYTES) });
  });
});
