import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCancelled } from './download';
import { readBlobRange, streamBlob } from './local';
import type { TransferProgress } from './progress';
import { fixtureBytes } from './test-fixtures';

const BYTES = fixtureBytes(200_003, 9);
const blob = new Blob([BYTES]);

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
    expect(result).toEqual({ size: BYTES.length, sha256: createHash('sha256').update(BYTES).digest('hex') });
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
      onChunk: (chunk, offset) => {
        expect(Buffer.from(chunk).equals(BYTES.subarray(offset, offset + chunk.length))).toBe(true);
        offsets.push(offset);
        total += chunk.length;
      },
    });
    expect(result.size).toBe(150_000 - 1001);
    expect(total).toBe(result.size);
    expect(offsets[0]).toBe(1001);
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
