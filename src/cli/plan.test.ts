// npm run plan (the built entry): named shapes and GGUF headers (a file, and a URL read by Range requests).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildCli, runCli } from './cli.testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { parseGgufHeader } from '../model/gguf/reader';
import { planForGguf, planForShape } from '../model/gguf/plan';
import { MODEL_SHAPES } from '../bench/shapes';
import { LORA_TARGETS } from '../engine/spec';

const GiB = 1024 ** 3;
let entry: string;
let server: Server;
let baseUrl: string;
const ranges: string[] = [];

beforeAll(async () => {
  entry = await buildCli('plan');
  // Serves src/testdata with Range support (206), or the whole file (200) under /norange/.
  server = createServer(async (req, res) => {
    const noRange = req.url!.startsWith('/norange/');
    const path = join('src/testdata', req.url!.replace(/^\/norange/, ''));
    const size = (await stat(path)).size;
    const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (noRange || !match) {
      res.writeHead(200, { 'content-length': size });
      createReadStream(path).pipe(res);
      return;
    }
    ranges.push(req.headers.range!);
    const [begin, end] = [Number(match[1]), Math.min(Number(match[2]), size - 1)];
    res.writeHead(206, { 'content-range': `bytes ${begin}-${end}/${size}`, 'content-length': end - begin + 1 });
    createReadStream(path, { start: begin, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const plan = (...args: string[]) => runCli(entry, args);

const FIGURES = ['total_bytes', 'weights_bytes', 'lora_bytes', 'activations_bytes', 'loss_bytes', 'largest_binding_bytes'];
const runOptions = (seqLen: number) => ({
  batch: 1, seqLen, recompute: true, activations: 'f16' as const, lora: { rank: 16, targets: [...LORA_TARGETS] },
  limits: { maxStorageBufferBindingSize: GiB, maxBufferSize: 4 * GiB },
});

describe('npm run plan', () => {
  it('a named shape in Q4_K_M: one JSON line, the figures of planForShape, fits against --gpu-memory', async () => {
    const fits = await plan('--shape', 'Llama-3-8B', '--quant', 'Q4_K_M', '--seq', '2048', '--recompute', '--gpu-memory', '8GiB');
    expect(fits).toMatchObject({ code: 0, stderr: '' });
    expect(fits.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(fits.stdout);
    const want = planForShape(MODEL_SHAPES['llama-3-8b'], 'Q4_K_M', runOptions(2048)).plan;
    expect(out).toMatchObject({ shape: 'llama-3-8b', quant: 'Q4_K_M', total_bytes: want.totalBytes, largest_binding_bytes: want.largest.bytes, gpu_memory_bytes: 8 * GiB, fits: true });
    expect(FIGURES.reduce((n, k) => (k === 'total_bytes' || k === 'largest_binding_bytes' ? n : n + out[k]), 0)).toBe(out.total_bytes);

    const tooSmall = JSON.parse((await plan('--shape', 'llama-3-8b', '--quant', 'Q4_K_M', '--seq', '4096', '--recompute', '--gpu-memory', '7516192768')).stdout);
    expect(tooSmall).toMatchObject({ fits: false, gpu_memory_bytes: 7 * GiB });
    expect(tooSmall.reason).toMatch(/too small/);
    const noMemory = JSON.parse((await plan('--shape', 'tiny', '--quant', 'Q8_0', '--seq', '32', '--targets', 'q,v', '--rank', '4')).stdout);
    expect(noMemory).not.toHaveProperty('fits');
    expect(noMemory.targets).toEqual(['q', 'v']);
  }, 60_000);

  // Issue 13's goals: LoRA r16 on all seven projections, recomputed, f16-stored activations.
  it('by default (f16 activations, as runs of cached models): Llama-3-8B Q4_K_M fits 8 GiB at 4096 tokens and 6.5 GiB at 2048, Mistral-7B 7.5 GiB at 4096', async () => {
    const goals: [string, string, number][] = [['llama-3-8b', '4096', 8], ['llama-3-8b', '2048', 6.5], ['mistral-7b', '4096', 7.5]];
    for (const [shape, seq, goalGiB] of goals) {
      const f16 = await plan('--shape', shape, '--quant', 'Q4_K_M', '--seq', seq, '--rank', '16', '--recompute', '--gpu-memory', `${goalGiB}GiB`);
      expect(f16).toMatchObject({ code: 0, stderr: '' });
      const out = JSON.parse(f16.stdout);
      console.log(`${shape} Q4_K_M, ${seq} tokens, f16 activations: ${(out.total_bytes / GiB).toFixed(2)} GiB (activations ${(out.activations_bytes / GiB).toFixed(2)} GiB); goal ${goalGiB} GiB`);
      expect(out).toMatchObject({ activations: 'f16', fits: true });
      expect(out.total_bytes).toBeLessThanOrEqual(goalGiB * GiB);
      expect(out.total_bytes).toBe(planForShape(MODEL_SHAPES[shape], 'Q4_K_M', runOptions(Number(seq))).plan.totalBytes);
      const f32 = JSON.parse((await plan('--shape', shape, '--quant', 'Q4_K_M', '--seq', seq, '--recompute', '--activations', 'f32')).stdout);
      expect(f32.activations).toBe('f32');
      expect(f32.total_bytes).toBeGreaterThan(goalGiB * GiB);
    }
    const bad = await plan('--shape', 'tiny', '--quant', 'Q8_0', '--seq', '32', '--activations', 'bf16');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--activations takes f32 or f16; got bf16/);
  }, 60_000);

  for (const name of ['llama-tiny-Q8_0', 'llama-tiny-Q4_0', 'llama3-tiny-Q6_K', 'mistral-tiny-F16']) {
    it(`--gguf ${name}: the header's real tensor types, from the file and from a URL by Range requests`, async () => {
      const path = `src/testdata/gguf/${name}/model.gguf`;
      const local = await plan('--gguf', path, '--seq', '64', '--recompute');
      expect(local).toMatchObject({ code: 0, stderr: '' });
      const out = JSON.parse(local.stdout);
      const header = await parseGgufHeader(new Uint8Array(await readFile(path)));
      const want = planForGguf(header, runOptions(64)).plan;
      expect(FIGURES.map((k) => out[k])).toEqual([want.totalBytes, want.bytesByGroup.weights, want.bytesByGroup.lora, want.bytesByGroup.activations, want.bytesByGroup.loss, want.largest.bytes]);
      // A quantized token_embd is planned in its blocks, smaller than f32.
      const embd = header.tensorInfos.find((t) => t.name === 'token_embd.weight')!;
      const table = want.buffers.find((b) => b.name.startsWith('model.embed_tokens.weight['))!;
      expect(table.bytes).toBe(embd.type === 'F16' ? embd.byteLength * 2 : embd.byteLength);

      ranges.length = 0;
      const remote = await plan('--gguf', `${baseUrl}/gguf/${name}/model.gguf`, '--seq', '64', '--recompute');
      expect(remote).toMatchObject({ code: 0, stderr: '' });
      expect(FIGURES.map((k) => JSON.parse(remote.stdout)[k])).toEqual(FIGURES.map((k) => out[k]));
      expect(ranges.length).toBeGreaterThan(0);
    }, 60_000);
  }

  it('bad input exits 2 with the usage, unreadable files 1', async () => {
    const usage = [
      [['--seq', '64'], /give one of --shape NAME and --gguf FILE/],
      [['--shape', 'tiny', '--gguf', 'x', '--seq', '4'], /give one of/],
      [['--shape', 'nope', '--quant', 'Q8_0', '--seq', '4'], /unknown --shape nope; known: .*llama-3-8b/],
      [['--shape', 'tiny', '--seq', '4'], /--shape needs --quant .*Q4_K_M; got nothing/],
      [['--shape', 'tiny', '--quant', 'Q3_K', '--seq', '4'], /got Q3_K/],
      [['--shape', 'tiny', '--quant', 'Q8_0'], /give --seq/],
      [['--shape', 'tiny', '--quant', 'Q8_0', '--seq', '0'], /--seq takes a whole number of at least 1; got 0/],
      [['--shape', 'tiny', '--quant', 'Q8_0', '--seq', '4', '--gpu-memory', 'lots'], /--gpu-memory takes bytes/],
      [['--shape', 'tiny', '--quant', 'Q8_0', '--seq', '4', '--targets', 'q,lm_head'], /--targets takes q,k,v,o,gate,up,down; got lm_head/],
      [['--shape', 'tiny', '--quant', 'Q8_0', '--seq', '4', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['--gguf', 'src/testdata/gguf/llama-tiny-Q8_0/model.gguf', '--quant', 'Q8_0', '--seq', '4'], /--quant is for --shape/],
    ] as const;
    for (const [args, message] of usage) {
      const r = await plan(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/usage: npm run plan/);
      expect(r.stdout).toBe('');
    }
    const missing = await plan('--gguf', 'no/such/model.gguf', '--seq', '4');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
    const notGguf = await plan('--gguf', 'src/testdata/gguf/README.md', '--seq', '4');
    expect(notGguf.code).toBe(1);
    expect(notGguf.stderr).toMatch(/GGUF/i);
    const noRange = await plan('--gguf', `${baseUrl}/norange/gguf/llama-tiny-Q8_0/model.gguf`, '--seq', '4');
    expect(noRange.code).toBe(1);
    expect(noRange.stderr).toMatch(/does not answer range requests \(HTTP 200\)/);
  }, 120_000);
});
