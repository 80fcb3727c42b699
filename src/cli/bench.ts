// npm run bench -- --shape NAME --seq T [--batch B] [--rank R] [--steps N] [--recompute] [--activations f32|f16] [--allocate-only] [--browser]
// Times full ManyICL LoRA training steps in Node through Dawn, or in headless Chromium with --browser, and
// prints one JSON line.
// npm run bench -- --decode --shape NAME [--seq PROMPT] [--new-tokens N] [--batch B] [--rank R]: prefill and
// decode tokens/s of greedy generation with the KV cache (Node through Dawn), one JSON line.
import { parseArgs } from 'node:util';
import { chromiumArgs, findChromium } from '../../e2e/chromium';
import { runDecodeBench } from '../bench/decode';
import { type BenchOptions, type BenchResult, runBench } from '../bench/train-step';
import { MODEL_SHAPES } from '../bench/shapes';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { runMain } from './run-main';

function nodeGpu(): Promise<Gpu> {
  return Gpu.create(installNodeWebGpu());
}

async function inNode(opts: BenchOptions): Promise<BenchResult> {
  const gpu = await nodeGpu();
  const result = await runBench(gpu, opts, (line) => console.error(line));
  gpu.device.destroy();
  return result;
}

/** Serves src/bench/bench.html with Vite and reads the result from the page. */
async function inChromium(opts: BenchOptions): Promise<BenchResult> {
  const { createServer } = await import('vite');
  const { chromium } = await import('playwright');
  const server = await createServer({ logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  const browser = await chromium.launch({ executablePath: findChromium(), args: chromiumArgs() });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => console.error(`[chromium] ${message.text()}`));
    const query = new URLSearchParams({
      shape: opts.shape, seq: String(opts.seq), batch: String(opts.batch), rank: String(opts.rank), steps: String(opts.steps),
      recompute: opts.recompute ? '1' : '0', activations: opts.activations ?? 'f32', allocateOnly: opts.allocateOnly ? '1' : '0',
    });
    await page.goto(`${server.resolvedUrls!.local[0]}src/bench/bench.html?${query}`);
    await page.waitForFunction(() => window.benchResult !== undefined || window.benchError !== undefined, null, { timeout: 0 });
    const error = await page.evaluate(() => window.benchError);
    if (error) throw new Error(error);
    return (await page.evaluate(() => window.benchResult)) as BenchResult;
  } finally {
    await browser.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: 'tiny' },
      seq: { type: 'string', default: '128' },
      batch: { type: 'string', default: '1' },
      rank: { type: 'string', default: '16' },
      steps: { type: 'string', default: '3' },
      recompute: { type: 'boolean', default: false },
      activations: { type: 'string', default: 'f32' },
      'allocate-only': { type: 'boolean', default: false },
      browser: { type: 'boolean', default: false },
      decode: { type: 'boolean', default: false },
      'new-tokens': { type: 'string', default: '32' },
    },
  });
  if (!MODEL_SHAPES[values.shape]) throw new Error(`unknown --shape ${values.shape}; one of: ${Object.keys(MODEL_SHAPES).join(', ')}`);
  if (values.decode) {
    const gpu = await nodeGpu();
    const result = await runDecodeBench(gpu, {
      shape: values.shape, prompt: Number(values.seq), newTokens: Number(values['new-tokens']), batch: Number(values.batch), rank: Number(values.rank),
    }, (line) => console.error(line));
    gpu.device.destroy();
    console.log(JSON.stringify({ runtime: 'node-dawn', ...result }));
    return;
  }
  if (values.activations !== 'f32' && values.activations !== 'f16') throw new Error(`--activations takes f32 or f16; got ${values.activations}`);
  const opts: BenchOptions = {
    activations: values.activations,
    shape: values.shape, seq: Number(values.seq), batch: Number(values.batch), rank: Number(values.rank),
    steps: Number(values.steps), recompute: values.recompute, allocateOnly: values['allocate-only'],
  };
  const result = values.browser ? await inChromium(opts) : await inNode(opts);
  console.log(JSON.stringify({ runtime: values.browser ? 'chromium' : 'node-dawn', ...result }));
}

runMain(main);
