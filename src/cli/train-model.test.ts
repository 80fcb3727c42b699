// The headless trainer's files: checkpoints on disk round-trip and keep only the newest; a finished run's
// PEFT adapter and full-parameter model folder read back; a checkpoint of another model is refused.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraTensorShapes } from '../engine/peft';
import { readPeftAdapter } from '../export/peft';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import type { Checkpoint } from '../train/checkpoints';
import { defaultRunConfig } from '../train/run-config';
import type { HostBaseModel } from '../train/session';
import { diskCheckpoints } from './disk-checkpoints';
import { checkCheckpointFits, writeRunResult } from './train-model';

const EMBEDDED = join('public', EMBEDDED_MODEL_PATH);
let dir: string;
let base: HostBaseModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manyicl-train-model-'));
  const folder = await loadModelFolder(async (name) => new Uint8Array(await readFile(join(EMBEDDED, name))));
  base = { spec: folder.spec, tokenizer: folder.tokenizer, tensors: tensorsOf(folder.weights) };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const ramp = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * scale));
const config = { ...defaultRunConfig(), mode: 'lora' as const, lora: { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'] as ('q_proj' | 'v_proj')[] } };
const loraCount = () => loraTensorShapes(base.spec, config.lora).reduce((n, t) => n + t.shape[0] * t.shape[1], 0);
const cursor = { version: 1 as const, seed: 1, position: 8, fingerprint: 'abc' };

describe('disk checkpoints', () => {
  it('round-trip LoRA and full checkpoints and keep only the newest arrays', async () => {
    const store = diskCheckpoints(join(dir, 'lora-checkpoints'));
    expect(await store.load('')).toBeUndefined();
    const n = loraCount();
    const at = (step: number): Checkpoint => ({ runId: 'r', step, mode: 'lora', params: ramp(n, step), m: ramp(n, 0.5 * step), v: ramp(n, 0.25 * step), cursor, savedAt: step });
    await store.save(at(2));
    await store.save(at(4));
    expect(await store.load('')).toEqual(at(4));
    expect((await readdir(join(dir, 'lora-checkpoints'))).sort()).toEqual(['checkpoint.json', 'step-000004.safetensors']);

    const full = diskCheckpoints(join(dir, 'full-checkpoints'));
    const params = { 'model.norm.weight': ramp(128, 0.1), 'model.embed_tokens.weight': ramp(64 * 128, 0.2) };
    const saved: Checkpoint = { runId: 'f', step: 3, mode: 'full', params, m: ramp(10, 0.3), v: ramp(10, 0.4), savedAt: 0 };
    await full.save(saved);
    expect(await full.load('')).toEqual(saved);
  });
});

describe('a finished run', () => {
  it('lora: writes a PEFT adapter that reads back, with a model card', async () => {
    const params = ramp(loraCount(), 0.01);
    const checkpoint: Checkpoint = { runId: 'r', step: 5, mode: 'lora', params, m: params, v: params, savedAt: 0 };
    const out = await writeRunResult(join(dir, 'lora-run'), {
      config, checkpoint, base, baseName: 'manyicl-tiny', modelDir: EMBEDDED, final: { loss: 1.25, taskLoss: { sentiment: 1.5 } },
    });
    expect((await readdir(out)).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    const files = new Map<string, Uint8Array>();
    for (const name of await readdir(out)) files.set(name, new Uint8Array(await readFile(join(out, name))));
    const adapter = readPeftAdapter((name) => files.get(name), base.spec, out);
    expect(adapter.config).toMatchObject({ rank: 2, alpha: 4 });
    const [first] = loraTensorShapes(base.spec, config.lora);
    expect(adapter.tensors.get(first.key)).toEqual(params.slice(0, first.shape[0] * first.shape[1]));
    const readme = new TextDecoder().decode(files.get('README.md'));
    expect(readme).toContain('Final loss: 1.2500');
    expect(readme).toContain('| sentiment | 50% | 1.5000 |');
  });

  it('full: writes the trained weights as a model folder that loads, tokenizer included', async () => {
    const name = 'model.layers.1.mlp.up_proj.weight';
    const trained = ramp(base.tensors(name)!.data.length, 0.05);
    const checkpoint: Checkpoint = { runId: 'f', step: 1, mode: 'full', params: { [name]: trained }, m: trained, v: trained, savedAt: 0 };
    const out = await writeRunResult(join(dir, 'full-run'), {
      config: { ...config, mode: 'full' }, checkpoint, base, baseName: 'manyicl-tiny', modelDir: EMBEDDED, final: { loss: null, taskLoss: {} },
    });
    expect((await readdir(out)).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const folder = await loadModelFolder(async (file) => new Uint8Array(await readFile(join(out, file))));
    expect(folder.spec).toEqual(base.spec);
    expect(folder.weights.tensor(name)).toEqual(trained);
    const other = 'model.layers.0.self_attn.k_proj.weight';
    expect(folder.weights.tensor(other)).toEqual(base.tensors(other)!.data);
  });

  it('refuses a checkpoint made for another model or LoRA shape', () => {
    const n = loraCount();
    const lora: Checkpoint = { runId: 'r', step: 1, mode: 'lora', params: new Float32Array(n + 4), m: new Float32Array(0), v: new Float32Array(0), savedAt: 0 };
    expect(() => checkCheckpointFits(base, config.lora, lora, 'ckpt')).toThrow(`ckpt holds ${n + 4} LoRA values, this model and LoRA config take ${n}`);
    expect(() => checkCheckpointFits(base, config.lora, { ...lora, params: new Float32Array(n) }, 'ckpt')).not.toThrow();
    const full: Checkpoint = { ...lora, mode: 'full', params: { 'model.norm.weight': new Float32Array(3) } };
    expect(() => checkCheckpointFits(base, config.lora, full, 'ckpt')).toThrow('ckpt: weight model.norm.weight does not fit this model');
  });
});
