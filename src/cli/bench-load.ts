// npm run bench:load -- [--mb 1024] [--chunk-mb 4] [--tensor-mb 64] [--no-sha256] [--live-heap]
// Times loading a cached model file (a synthetic safetensors file of --mb MiB in the browser cache) into GPU
// buffers in headless Chromium, with the JS heap's peak during the load. Progress goes to stderr; stdout gets
// one JSON line, and stderr a summary line: the entry into the cache (sha256 computed as it is written), the load
// of the verified file (no hashing), and a load of it as an unverified record (hashed while read, as the first
// load of a file cached before entries were hashed is).
//   --no-sha256   skip that last load
//   --live-heap   sample the live heap (a full GC before each sample) instead of the heap with its garbage
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromiumArgs, findChromium } from '../../e2e/chromium';
import type { LoadBenchResult } from '../bench/load-bench';
import { runMain } from './run-main';

const MiB = 1024 * 1024;

/** Serves src/bench/load.html with Vite and reads the result from the page. */
async function inChromium(query: URLSearchParams): Promise<LoadBenchResult> {
  const { createServer } = await import('vite');
  const { chromium } = await import('playwright');
  const server = await createServer({ logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  // A profile on disk: in Playwright's default (incognito) context, OPFS and Cache Storage live in memory.
  const profile = await mkdtemp(join(tmpdir(), 'manyicl-bench-load-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: findChromium(),
    headless: true,
    // Precise performance.memory (array buffers included, no 20-minute caching), and gc() for the baseline.
    args: [...chromiumArgs(), '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => console.error(`[chromium] ${message.text()}`));
    page.on('crash', () => console.error('[chromium] the page crashed'));
    await page.goto(`${server.resolvedUrls!.local[0]}src/bench/load.html?${query}`);
    await page.waitForFunction(() => window.benchResult !== undefined || window.benchError !== undefined, null, { timeout: 0 });
    const error = await page.evaluate(() => window.benchError);
    if (error) throw new Error(error);
    return (await page.evaluate(() => window.benchResult)) as LoadBenchResult;
  } finally {
    await context.close();
    await server.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const megabytes = (bytes: number) => (bytes / MiB).toFixed(1);

function summary(result: LoadBenchResult): string {
  const entry = `entry with sha256: ${megabytes(result.bytes)} MB in ${result.writeSeconds.toFixed(1)} s = ${result.writeMBps.toFixed(0)} MB/s`;
  const hashed = result.hashedLoadSeconds === null || result.hashedLoadMBps === null ? '' :
    `; cache -> GPU hashing (unverified record): ${result.hashedLoadSeconds.toFixed(1)} s = ${result.hashedLoadMBps.toFixed(0)} MB/s`;
  const load = `${entry}; cache -> GPU: ${result.loadSeconds.toFixed(1)} s = ${result.loadMBps.toFixed(0)} MB/s ` +
    `(${result.loadHashers} hashers)${hashed}`;
  const heap =
    result.heapPeakAboveBaselineBytes === null || result.heapBaselineBytes === null
      ? 'JS heap not measured'
      : `peak ${result.heapMeasurement.startsWith('live heap') ? 'live ' : ''}JS heap ${megabytes(result.heapPeakAboveBaselineBytes)} MB ` +
        `above baseline (baseline ${megabytes(result.heapBaselineBytes)} MB)`;
  const detail =
    `${result.tensors} tensors of ${megabytes(result.tensorBytes)} MB, ${result.backend}, ` +
    `sha256 ${result.sha256Verified ? 'verified at entry' : 'not verified'}; MB = 2^20 bytes`;
  return `${load}; ${heap} [${detail}]`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mb: { type: 'string', default: '1024' },
      'chunk-mb': { type: 'string', default: '4' },
      'tensor-mb': { type: 'string', default: '64' },
      'no-sha256': { type: 'boolean', default: false },
      'live-heap': { type: 'boolean', default: false },
    },
  });
  const mebibytes: Record<string, number> = {};
  for (const flag of ['mb', 'chunk-mb', 'tensor-mb'] as const) {
    mebibytes[flag] = Number(values[flag]);
    if (!(mebibytes[flag] > 0)) throw new Error(`--${flag} must be a positive number of MiB, not ${values[flag]}`);
  }
  const query = new URLSearchParams({
    mb: String(mebibytes.mb),
    chunkMb: String(mebibytes['chunk-mb']),
    tensorMb: String(mebibytes['tensor-mb']),
    sha256: values['no-sha256'] ? '0' : '1',
    liveHeap: values['live-heap'] ? '1' : '0',
  });
  const result = await inChromium(query);
  console.log(JSON.stringify({ runtime: 'chromium', ...result }));
  console.error(summary(result));
}

runMain(main);
