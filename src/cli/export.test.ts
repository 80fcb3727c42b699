// npm run export (the built entry): every format from a case folder; bad input exits 1 and leaves nothing.
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, runCli } from './cli.testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specFromHfConfig } from '../model/config';
import { readSafetensors } from '../model/safetensors';
import { parseGgufHeader } from '../model/gguf/reader';

const CASE = 'src/testdata/reference/llama-tiny';
let dir: string;
let entry: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manyicl-export-'));
  // Inside the repository, so that the bundle's external packages (protobufjs, fflate) resolve from node_modules.
  entry = await buildCli('export');
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const exportCase = (caseDir: string, ...args: string[]) => runCli(entry, [caseDir, ...args]);

describe('npm run export', () => {
  it('writes every format from a case folder', { timeout: 60_000 }, async () => {
    const out = (name: string) => join(dir, name);
    const peft = await exportCase(CASE, '--format', 'peft', '--out', out('peft'));
    expect(peft).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(peft.stdout)).toMatchObject({ format: 'peft', dtype: 'f32', out: out('peft') });
    expect(await readFile(out('peft/adapter_model.safetensors'))).toEqual(await readFile(join(CASE, 'adapter_model.safetensors')));

    expect((await exportCase(CASE, '--format', 'gguf-lora', '--dtype', 'f16', '--out', out('lora.gguf'))).code).toBe(0);
    const lora = await parseGgufHeader(new Uint8Array(await readFile(out('lora.gguf'))));
    expect(lora.metadata).toMatchObject({ 'general.type': 'adapter', 'adapter.type': 'lora', 'general.architecture': 'llama' });
    expect(lora.tensorInfos.every((t) => t.type === 'F16' && /^blk\.\d+\..*\.weight\.lora_[ab]$/.test(t.name))).toBe(true);

    expect((await exportCase(CASE, '--format', 'merged-safetensors', '--dtype', 'bf16', '--out', out('merged'))).code).toBe(0);
    expect(specFromHfConfig(JSON.parse(await readFile(out('merged/config.json'), 'utf8')))).toEqual(
      specFromHfConfig(JSON.parse(await readFile(join(CASE, 'config.json'), 'utf8'))),
    );
    const merged = readSafetensors(new Uint8Array(await readFile(out('merged/model.safetensors'))));
    expect(merged.info('model.layers.0.self_attn.q_proj.weight').dtype).toBe('BF16');

    expect((await exportCase(CASE, '--format', 'merged-gguf', '--quant', 'Q8_0', '--out', out('merged.gguf'))).code).toBe(0);
    const gguf = await parseGgufHeader(new Uint8Array(await readFile(out('merged.gguf'))));
    expect(gguf.tensorInfos.find((t) => t.name === 'blk.0.attn_q.weight')?.type).toBe('Q8_0');

    expect((await exportCase(CASE, '--format', 'onnx', '--out', out('onnx'))).code).toBe(0);
    expect((await readdir(out('onnx/onnx'))).sort()).toEqual(['model.onnx', 'model_fp16.onnx']);
  });

  it('exits 1 naming the problem, and writes nothing, for a folder without an adapter or with one for another model', { timeout: 60_000 }, async () => {
    const noAdapter = join(dir, 'no-adapter');
    await mkdir(noAdapter);
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(CASE, f), join(noAdapter, f));
    const none = await exportCase(noAdapter, '--format', 'merged-safetensors', '--out', join(dir, 'bad1'));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no-adapter: no adapter_config\.json: there is no adapter to export/);

    const other = join(dir, 'other-adapter');
    await mkdir(other);
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(CASE, f), join(other, f));
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) await copyFile(join('src/testdata/reference/llama3-tiny', f), join(other, f));
    const wrong = await exportCase(other, '--format', 'gguf-lora', '--out', join(dir, 'bad2.gguf'));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/other-adapter: adapter_model\.safetensors: .* has shape \[.*\], expected \[.*\]/);

    // --out on a folder with files in it (here the case folder itself) is refused before anything is written.
    const ontoCase = await exportCase(CASE, '--format', 'peft', '--out', CASE);
    expect(ontoCase.code).toBe(1);
    expect(ontoCase.stderr).toMatch(/llama-tiny is a folder that is not empty: give a new path for --out \(nothing was written\)/);
    expect((await readdir(CASE)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'batch.json', 'config.json', 'expected.json', 'expected.safetensors', 'model.safetensors']);
    const onto = join(dir, 'empty-out');
    await mkdir(onto);
    expect((await exportCase(CASE, '--format', 'peft', '--out', onto)).code).toBe(0);
    expect((await readdir(onto)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);

    const names = await readdir(dir);
    expect(names.filter((n) => n.startsWith('bad') || n.includes('.partial'))).toEqual([]);
    expect((await exportCase(CASE, '--format', 'zip', '--out', join(dir, 'x'))).code).toBe(2);
  });
});
