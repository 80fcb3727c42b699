import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileServer, startFileServer } from '../../e2e/file-server';
import { readFixtureBytes } from '../testdata/cases.testing';
import { readSafetensors, writeSafetensors } from '../model/safetensors';
import { inspectMain } from './inspect-model';

let dir: string;
let server: FileServer;
let gguf: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manyicl-inspect-'));
  gguf = await readFixtureBytes('gguf/llama-tiny-Q4_0/model.gguf');
  const st = await readFixtureBytes('reference/mistral-tiny/model.safetensors');
  const config = await readFixtureBytes('reference/mistral-tiny/config.json');
  server = await startFileServer({
    '/q4/model.gguf': { body: gguf },
    '/mistral/config.json': { body: config },
    '/mistral/model.safetensors': { body: st },
    '/truncated.gguf': { body: gguf.slice(0, 5000) },
    '/no-ranges.gguf': { body: gguf, ranges: false },
    // 4 MiB at 16 KiB per 100 ms: 25 s to download whole.
    '/slow-no-ranges.gguf': { body: new Uint8Array(4 << 20), ranges: false, pieceBytes: 16 << 10, delayMs: 100 },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function inspect(...args: string[]): Promise<{ code: number; lines: Record<string, unknown>[]; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await inspectMain(args, (line) => out.push(line), (line) => err.push(line));
  return { code, lines: out.map((line) => JSON.parse(line) as Record<string, unknown>), stderr: err.join('\n') };
}

/** A copy of the GGUF fixture with llama.block_count set to `value` in place. */
function withBlockCount(value: number): Uint8Array {
  const copy = gguf.slice();
  const key = new TextEncoder().encode('llama.block_count');
  const at = copy.findIndex((_, i) => key.every((b, j) => copy[i + j] === b));
  new DataView(copy.buffer).setUint32(at + key.length + 4, value, true);
  return copy;
}

describe('npm run inspect', () => {
  it('refuses a server without ranges at its first answer, without downloading the file', async () => {
    const started = performance.now();
    const { code, lines } = await inspect(`${server.url}/slow-no-ranges.gguf`);
    expect(code).toBe(1);
    expect(lines[0].error).toMatch(/does not answer range requests \(HTTP 200\)/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('prints one line per path (a GGUF file, a safetensors folder, URLs by Range) with the model, exit 0', async () => {
    const ggufPath = join(dir, 'tiny.gguf');
    await writeFile(ggufPath, gguf);
    const folder = 'src/testdata/reference/llama3-tiny';
    const urls = [`${server.url}/q4/model.gguf`, `${server.url}/mistral/`];
    const { code, lines } = await inspect(ggufPath, folder, ...urls);
    expect(code).toBe(0);
    expect(lines.map((l) => l.path)).toEqual([ggufPath, folder, ...urls]);
    expect(lines[0]).toEqual({
      path: ggufPath, ok: true, arch: 'llama', layers: 2, params: 135488, tensor_types: { Q4_0: 16, F32: 5 }, tokenizer: null,
      warnings: ['neither rope_freqs.weight nor llama.rope.scaling.* keys: RoPE is not scaled (no Llama 3 scaling)'],
    });
    expect(lines[1]).toMatchObject({ ok: true, arch: 'llama', layers: 2, tensor_types: { F32: 20 }, tokenizer: null, warnings: [] });
    expect(lines[2]).toEqual({ ...lines[0], path: urls[0] });
    expect(lines[3]).toMatchObject({ ok: true, arch: 'mistral', layers: 2, tensor_types: { F32: 21 } });
    // Only headers were read over HTTP: every request of the GGUF asked for a range far smaller than the file.
    const ggufRequests = server.requests.filter((r) => r.path === '/q4/model.gguf');
    expect(ggufRequests.every((r) => r.range !== undefined)).toBe(true);
  });

  it('refuses broken paths in words, fast, and exits 1; a 1e9 block_count is refused before any loop', async () => {
    const huge = join(dir, 'huge-layers.gguf');
    await writeFile(huge, withBlockCount(1e9));
    const started = performance.now();
    const { code, lines } = await inspect(huge, `${server.url}/truncated.gguf`, `${server.url}/no-ranges.gguf`, join(dir, 'nothing-here'), 'src/testdata/gguf/llama-tiny-F16/model.gguf');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(code).toBe(1);
    expect(lines).toEqual([
      { path: huge, ok: false, error: `${huge}: GGUF: llama.block_count is 1000000000, over the limit of 1024` },
      { path: `${server.url}/truncated.gguf`, ok: false, error: expect.stringMatching(/truncated\.gguf: GGUF: truncated file: tensor token_embd\.weight ends at byte \d+, but the file has 5000 bytes/) },
      { path: `${server.url}/no-ranges.gguf`, ok: false, error: expect.stringMatching(/does not answer range requests/) },
      { path: join(dir, 'nothing-here'), ok: false, error: `${join(dir, 'nothing-here')}: no such file or folder` },
      expect.objectContaining({ ok: true }),
    ]);
  });

  it('reads the weights only with --check-values, and names a NaN block scale', async () => {
    const broken = join(dir, 'nan');
    await mkdir(broken);
    const copy = gguf.slice();
    const { lines: [clean] } = await inspect(join(dir, 'tiny.gguf'));
    expect(clean.ok).toBe(true);
    // The last tensor's last Q4_0 block: its f16 scale d set to NaN.
    const at = copy.length - 18;
    new DataView(copy.buffer).setUint16(at, 0x7e00, true);
    await writeFile(join(broken, 'model.gguf'), copy);
    expect((await inspect(broken)).lines[0]).toMatchObject({ ok: true });
    const checked = await inspect('--check-values', broken);
    expect(checked.code).toBe(1);
    expect(checked.lines[0]).toEqual({
      path: broken, ok: false,
      error: expect.stringMatching(/model\.gguf: tensor output\.weight: block \d+ has the scale d = NaN; weights must be finite/),
    });
    expect((await inspect('--check-values', 'src/testdata/reference/llama-tiny')).code).toBe(0);
  });

  it('reads a sharded safetensors folder through its index, from the folder or from one of its shards', async () => {
    const file = readSafetensors(await readFixtureBytes('reference/llama-tiny/model.safetensors'));
    const names = [...file.header.tensors.keys()];
    const half = Math.ceil(names.length / 2);
    const shard = (part: string[]) => writeSafetensors(Object.fromEntries(part.map((n) => [n, { shape: file.info(n).shape, data: file.tensor(n) }])));
    const sharded = join(dir, 'sharded');
    await mkdir(sharded);
    await writeFile(join(sharded, 'config.json'), await readFixtureBytes('reference/llama-tiny/config.json'));
    await writeFile(join(sharded, 'model-00001-of-00002.safetensors'), shard(names.slice(0, half)));
    await writeFile(join(sharded, 'model-00002-of-00002.safetensors'), shard(names.slice(half)));
    const weightMap = Object.fromEntries(names.map((n, i) => [n, `model-0000${i < half ? 1 : 2}-of-00002.safetensors`]));
    await writeFile(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    const shardPath = join(sharded, 'model-00002-of-00002.safetensors');
    const { code, lines } = await inspect(sharded, shardPath);
    expect(code).toBe(0);
    expect(lines[0]).toMatchObject({ path: sharded, ok: true, layers: 2, tensor_types: { F32: 21 } });
    expect(lines[1]).toEqual({ ...lines[0], path: shardPath });
    await rm(join(sharded, 'model-00001-of-00002.safetensors'));
    expect((await inspect(sharded)).lines[0]).toMatchObject({ ok: false, error: `${join(sharded, 'model-00001-of-00002.safetensors')}: not found` });
  });

  it('exits 2 with usage without a path', async () => {
    expect(await inspect()).toMatchObject({ code: 2, stderr: expect.stringMatching(/^usage: npm run inspect/) });
    expect(await inspect('--frobnicate', 'x')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown option --frobnicate/) });
  });
});
