// The load benchmark at a small size in Chromium (`gpu` project): the bytes that reach the GPU are right,
// nothing is left behind (GPU buffers, cached file), and the load's JS heap stays far below the file size.
// The heap is read through the DevTools protocol (precise without --enable-precise-memory-info), after a full
// collection each time: the live heap, which a loader that kept the file's bytes would fill.
import { cdp } from 'vitest/browser';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { type CacheBackend, ModelCache } from '../model/sources/cache';
import { LOAD_BENCH_CACHE, LOAD_BENCH_KEY, benchmarkCacheToGpu, liveHeapReader, patternByte } from './load-bench';

const inBrowser = typeof window !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
const MiB = 1024 * 1024;

/** JS heap plus array buffer backing stores: what precise performance.memory.usedJSHeapSize counts. */
async function heapBytes(): Promise<number> {
  const usage = await cdp().send('Runtime.getHeapUsage');
  return usage.usedSize + (usage.backingStorageSize ?? 0);
}

async function collectGarbage(): Promise<void> {
  await cdp().send('HeapProfiler.collectGarbage');
}

describe.runIf(inBrowser)('benchmarkCacheToGpu', () => {
  it('has a pattern that is not constant nor periodic in 4-byte words', () => {
    const bytes = Array.from({ length: 64 }, (_, i) => patternByte(i));
    expect(new Set(bytes).size).toBeGreaterThan(32);
    expect(bytes.slice(0, 4)).not.toEqual(bytes.slice(4, 8));
  });

  it.each<CacheBackend>(['opfs', 'cache-storage'])('loads 24 MiB from %s into the GPU and cleans up', async (backend) => {
    const gpu = await testGpu();
    const allocatedBefore = gpu.allocatedBytes;
    const bytes = 24 * MiB;
    const phases = new Set<string>();
    const result = await benchmarkCacheToGpu(gpu, {
      bytes,
      chunkBytes: MiB,
      tensorBytes: 5 * MiB + 3, // odd sizes: tensors start at unaligned file offsets
      backend,
      readHeap: liveHeapReader(collectGarbage, heapBytes),
      // After every chunk: a load that no longer hashes takes about a second, too short for samples 100 ms apart.
      heapSampleEveryMs: 0,
      collectGarbage,
      heapMeasurement: 'live heap through CDP',
      onProgress: ({ phase }) => phases.add(phase),
    });

    expect(result.backend).toBe(backend);
    expect(result.tensors).toBe(5); // 4 of 5 MiB + 3 bytes, and the rest
    expect(result.bytes).toBeGreaterThan(bytes);
    expect(result.bytes).toBeLessThan(bytes + 4096);
    expect(result.sha256Verified).toBe(true);
    expect(result.loadSeconds).toBeGreaterThan(0);
    expect(result.loadMBps).toBeCloseTo(result.bytes / MiB / result.loadSeconds, 6);
    expect(result.loadHashers).toBe(0); // verified when it entered the cache: the load does not hash
    expect(result.writeMBps).toBeCloseTo(result.bytes / MiB / result.writeSeconds, 6);
    expect(result.hashedLoadSeconds).toBeGreaterThan(0);
    expect([...phases].sort()).toEqual(['load', 'write']);

    // First, middle and last tensor, each at its start, middle and end.
    expect(result.spotChecks.map((c) => c.tensor)).toEqual(['bench.0', 'bench.0', 'bench.0', 'bench.2', 'bench.2', 'bench.2', 'bench.4', 'bench.4', 'bench.4']);
    expect(result.spotChecks.every((c) => c.matches && c.bytes > 0)).toBe(true);
    const last = result.spotChecks[result.spotChecks.length - 1];
    expect(last.offset + last.bytes).toBe(bytes - 4 * (5 * MiB + 3)); // reaches the end of the last tensor

    // The load's buffers held the data section (each rounded up to 4 bytes), and are gone.
    expect(result.gpuPeakBytes).toBe(4 * (5 * MiB + 4) + (bytes - 4 * (5 * MiB + 3)));
    expect(gpu.allocatedBytes).toBe(allocatedBefore);

    const cache = new ModelCache({ ...LOAD_BENCH_CACHE, backend });
    expect(await cache.has(LOAD_BENCH_KEY)).toBe(false);
    expect(await cache.list()).toEqual([]);
    expect(await cache.removeIncomplete()).toBe(0); // no stored bytes without a record either

    // Streaming: the heap never held more than a small part of the file.
    expect(result.heapSamples).toBeGreaterThan(2);
    expect(result.heapBaselineBytes).toBeGreaterThan(0);
    expect(result.heapPeakAboveBaselineBytes).toBeGreaterThanOrEqual(0);
    expect(result.heapPeakAboveBaselineBytes as number).toBeLessThan(0.25 * bytes);
  });

  it('measures the heap with performance.memory by default and says how', async () => {
    const gpu = await testGpu();
    const result = await benchmarkCacheToGpu(gpu, { bytes: 3 * MiB + 1, chunkBytes: 256 * 1024, tensorBytes: MiB });
    expect(result.tensors).toBe(4);
    expect(result.spotChecks.every((c) => c.matches)).toBe(true);
    expect(result.heapMeasurement).toMatch(/^performance\.memory\.usedJSHeapSize/);
    expect(result.heapBaselineBytes).toBeGreaterThan(0);
  });
});
