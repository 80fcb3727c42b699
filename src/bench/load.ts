// The model load benchmark in a browser tab: load.html?mb=1024&chunkMb=4&tensorMb=64&sha256=1&liveHeap=0 ;
// `npm run bench:load` opens it in headless Chromium and prints window.benchResult.
import { Gpu } from '../gpu/gpu';
import { type LoadBenchOptions, benchmarkCacheToGpu, liveHeapReader, performanceMemoryReader } from './load-bench';
import { errorMessage } from '../util/errors';

declare global {
  interface Window {
    benchResult?: unknown;
    benchError?: string;
  }
}

const MiB = 1024 * 1024;
const log = document.getElementById('log')!;
const q = new URLSearchParams(location.search);
const mebibytes = (name: string, fallback: number) => Number(q.get(name) ?? fallback) * MiB;

function say(line: string): void {
  console.log(line);
  log.textContent += `\n${line}`;
}

/** liveHeap=1: the live heap only (a full GC before each sample), with gc() exposed and precise performance.memory. */
function liveHeap(): Pick<LoadBenchOptions, 'readHeap' | 'heapMeasurement' | 'heapSampleEveryMs'> {
  if (q.get('liveHeap') !== '1') return {};
  const gc = (globalThis as { gc?: () => void }).gc;
  const readHeap = performanceMemoryReader();
  if (!gc || !readHeap) throw new Error('liveHeap=1 needs gc() (--js-flags=--expose-gc) and performance.memory');
  return {
    readHeap: liveHeapReader(gc, readHeap, 60),
    heapSampleEveryMs: 500,
    heapMeasurement: 'live heap: performance.memory.usedJSHeapSize (precise) read after gc() before each sample',
  };
}

try {
  const gpu = await Gpu.create();
  const lastReport = { write: -Infinity, load: -Infinity };
  const result = await benchmarkCacheToGpu(gpu, {
    bytes: mebibytes('mb', 1024),
    chunkBytes: mebibytes('chunkMb', 4),
    tensorBytes: mebibytes('tensorMb', 64),
    sha256: q.get('sha256') !== '0',
    ...liveHeap(),
    onProgress: ({ phase, loaded, total }) => {
      const now = performance.now();
      if (loaded < total && now - lastReport[phase] < 2000) return;
      lastReport[phase] = now;
      say(`${phase}: ${(loaded / MiB).toFixed(0)} / ${(total / MiB).toFixed(0)} MiB`);
    },
  });
  log.textContent = JSON.stringify(result, null, 2);
  window.benchResult = result;
} catch (error) {
  window.benchError = errorMessage(error);
  log.textContent = window.benchError;
}
