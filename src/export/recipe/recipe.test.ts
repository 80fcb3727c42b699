import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialLoraParams } from '../../engine/lora';
import type { RecipeTestRow } from '../../eval/recipe-test';
import { EMBEDDED_MODEL_PATH } from '../../model/embedded';
import { bytesRangeSource } from '../../model/gguf/reader';
import { safetensorsHostTensors } from '../../model/host-tensors';
import { readSafetensors } from '../../model/safetensors';
import { loadTokenizer } from '../../model/tokenizer';
import { type RunConfig, defaultRunConfig, parseRunConfig } from '../../train/run-config';
import { flatOfHostAdapter } from '../adapter';
import { randomHostAdapter } from '../adapter.testing';
import { readPeftAdapter } from '../peft';
import { memoryFolder } from '../sink';
import { ACCELERATE_CONFIGS } from './accelerate';
import { exportRecipe } from './recipe';
import { parse as parseYaml } from 'yaml';

const MODEL = `public/${EMBEDDED_MODEL_PATH}`;
const json = (path: string) => JSON.parse(readFileSync(join(MODEL, path), 'utf8'));
const tokenizerFiles = { tokenizer: json('tokenizer.json'), config: json('tokenizer_config.json') };
const tokenizer = loadTokenizer(tokenizerFiles);
const modelBytes = new Uint8Array(readFileSync(join(MODEL, 'model.safetensors')));
const base = await safetensorsHostTensors(
  [{ name: 'model.safetensors', source: bytesRangeSource(modelBytes) }], new Uint8Array(readFileSync(join(MODEL, 'config.json'))), tokenizerFiles,
);

const config: RunConfig = {
  ...defaultRunConfig(), mode: 'lora', objective: 'last-answer', contextLength: 64, batchSize: 2, gradAccumulation: 2, steps: 3, seed: 5,
  lora: { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] },
};
const testRows: RecipeTestRow[] = [{
  task: 'sentiment', family: 'classification', metric: 'accuracy', shots: 0, example_id: 'sentiment-1', prompt_ids: [1, 5, 6],
  reference: 'positive', answer_prefix: ' ', answer_end: '\n', max_new_tokens: 8,
}];

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function onDisk(files: Map<string, Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'manyicl-recipe-'));
  dirs.push(dir);
  for (const [path, bytes] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return dir;
}

const text = (files: Map<string, Uint8Array>, path: string) => {
  const bytes = files.get(path);
  if (!bytes) throw new Error(`the recipe has no ${path}`);
  return new TextDecoder().decode(bytes);
};

describe('exportRecipe', () => {
  it('writes the data, the initial adapter, the settings, the scripts, the configs and the model folder', async () => {
    const folder = memoryFolder();
    const summary = await exportRecipe(config, tokenizer, folder, { base, testRows, engineLoss: { loss: 4.25, targetTokens: 17 } });
    const { files } = folder;
    expect(summary).toEqual({ rows: 12, testRows: 1, hubRepo: null });
    expect([...files.keys()].sort()).toEqual([
      'README.md', 'accelerate/deepspeed_zero3.yaml', 'accelerate/fsdp2.yaml', 'accelerate/multi_gpu.yaml', 'accelerate/single_gpu.yaml',
      'check_parity.py', 'data/test.jsonl', 'data/train.jsonl', 'init_adapter/adapter_config.json', 'init_adapter/adapter_model.safetensors',
      'model/config.json', 'model/generation_config.json', 'model/model.safetensors', 'model/tokenizer.json', 'model/tokenizer_config.json',
      'parity.json', 'recipe.json', 'recipe_lib.py', 'run-config.json', 'train.py',
    ]);

    const rows = text(files, 'data/train.jsonl').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(12);
    expect(rows.map((r) => r.index)).toEqual([...Array(12).keys()]);
    for (const r of rows) {
      expect(r.input_ids).toHaveLength(64);
      expect(r.assistant_masks).toHaveLength(64);
      // last-answer: the mask covers the last span only
      const last = r.spans.at(-1);
      expect(r.assistant_masks.reduce((a: number, b: number) => a + b, 0)).toBe(last.end - last.start);
    }
    expect(JSON.parse(text(files, 'data/test.jsonl'))).toEqual(testRows[0]);
    expect(parseRunConfig(text(files, 'run-config.json'))).toEqual(config);
    expect(JSON.parse(text(files, 'parity.json'))).toMatchObject({ engine_loss: 4.25, target_tokens: 17, rows: [0, 4] });

    // The initial adapter is the engine's initialize(seed), readable as a PEFT adapter.
    const init = readPeftAdapter((name) => files.get(`init_adapter/${name}`), base.spec, 'init_adapter');
    expect(init.config).toEqual({ rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], useRslora: false });
    expect(flatOfHostAdapter(init)).toEqual(initialLoraParams(base.spec, config.lora, config.seed));
    const a = init.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!;
    expect(a.some((x) => x !== 0) && a.every((x) => Math.abs(x) <= 1 / Math.sqrt(128))).toBe(true);
    expect(init.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!.every((x) => x === 0)).toBe(true);
    const adapterConfig = JSON.parse(text(files, 'init_adapter/adapter_config.json'));
    expect(adapterConfig).toMatchObject({ r: 4, lora_alpha: 8, lora_dropout: 0, init_lora_weights: true, use_rslora: false });

    // The model folder holds the base weights unchanged (f32).
    const weights = readSafetensors(files.get('model/model.safetensors')!);
    const original = readSafetensors(modelBytes);
    for (const name of original.header.tensors.keys()) expect(weights.tensor(name)).toEqual(original.tensor(name));

    // Every setting the scripts read is in recipe.json.
    const recipe = JSON.parse(text(files, 'recipe.json'));
    expect(recipe).toMatchObject({
      base_model: { path: 'model' }, objective: 'last-answer', seed: 5, pad_token_id: tokenizer.padId,
      batch: { batch_size: 2, grad_accumulation: 2, contexts: 12 },
      lora: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'down_proj'], lora_dropout: 0, use_rslora: false },
      optimizer: { lr: config.lr, betas: [0.9, 0.999], eps: 1e-8, weight_decay: config.weightDecay, max_grad_norm: config.maxGradNorm },
      schedule: { steps: 3, warmup_steps: config.warmupSteps, min_lr_ratio: config.minLrRatio },
    });
    const sections: Record<string, string> = { opt: 'optimizer', batch: 'batch', s: 'schedule', lora: 'lora', base: 'base_model' };
    for (const script of ['train.py', 'check_parity.py', 'recipe_lib.py']) {
      const source = text(files, script);
      for (const [, key, sub] of source.matchAll(/recipe\["(\w+)"\](?:\["(\w+)"\])?/g)) {
        expect(recipe, `${script}: recipe["${key}"]`).toHaveProperty(key);
        if (sub) expect(recipe[key], `${script}: recipe["${key}"]["${sub}"]`).toHaveProperty(sub);
      }
      for (const [, variable, key] of source.matchAll(/\b(opt|batch|s|lora|base)\["(\w+)"\]/g)) {
        if (!(variable === 'base' && key === 'hub_repo')) expect(recipe[sections[variable]], `${script}: ${variable}["${key}"]`).toHaveProperty(key);
      }
    }

    // The scripts compile, and the torch-free library reads the folder.
    const dir = onDisk(files);
    for (const script of ['train.py', 'check_parity.py', 'recipe_lib.py']) {
      execFileSync('python3', ['-m', 'py_compile', join(dir, script)]);
    }
    const read = execFileSync('python3', ['-c', 'import json, os\nfrom recipe_lib import *\nr = load_recipe()\nrows = read_jsonl(os.path.join(HERE, "data", "train.jsonl"))\nprint(json.dumps([r["batch"]["contexts"], len(rows), sum(rows[0]["assistant_masks"])]))'], { cwd: dir, encoding: 'utf8' });
    expect(JSON.parse(read)).toEqual([12, 12, rows[0].assistant_masks.reduce((x: number, y: number) => x + y, 0)]);

    // The accelerate configs parse as YAML 1.1, as PyYAML (which accelerate uses) reads it.
    const yaml = Object.fromEntries(ACCELERATE_CONFIGS.map((kind) => [kind, parseYaml(text(files, `accelerate/${kind}.yaml`), { version: '1.1', uniqueKeys: true, strict: true })]));
    expect(yaml.single_gpu).toMatchObject({ distributed_type: 'NO', num_processes: 1, mixed_precision: 'bf16', downcast_bf16: 'no' });
    expect(yaml.multi_gpu).toMatchObject({ distributed_type: 'MULTI_GPU', num_machines: 1 });
    expect(yaml.fsdp2).toMatchObject({ distributed_type: 'FSDP', fsdp_config: { fsdp_version: 2, fsdp_transformer_layer_cls_to_wrap: 'LlamaDecoderLayer' } });
    expect(yaml.deepspeed_zero3).toMatchObject({ distributed_type: 'DEEPSPEED', deepspeed_config: { zero_stage: 3, zero3_init_flag: true } });

    const readme = text(files, 'README.md');
    expect(readme).toContain('pip install torch==');
    for (const kind of ACCELERATE_CONFIGS) expect(readme).toContain(`accelerate launch --config_file accelerate/${kind}.yaml`);
    expect(readme).toMatch(/Not run in CI/);
  });

  it('starts an imported run from the adapter it was imported from', async () => {
    const imported = randomHostAdapter(base.spec, config.lora, 3);
    const folder = memoryFolder();
    await exportRecipe(config, tokenizer, folder, { base, testRows: [], initialAdapter: flatOfHostAdapter(imported) });
    const init = readPeftAdapter((name) => folder.files.get(`init_adapter/${name}`), base.spec, 'init_adapter');
    for (const [key, data] of imported.tensors) expect(init.tensors.get(key), key).toEqual(data);
    expect(text(folder.files, 'README.md')).toContain('the adapter it was imported from');
  });

  it('names the Hub repo instead of writing model/, and stores no engine loss when given none', async () => {
    const folder = memoryFolder();
    const summary = await exportRecipe({ ...config, objective: 'manyicl' }, tokenizer, folder, { base: { ...base, repo: 'org/tiny' }, testRows: [] });
    expect(summary.hubRepo).toBe('org/tiny');
    expect([...folder.files.keys()].some((p) => p.startsWith('model/'))).toBe(false);
    expect(JSON.parse(text(folder.files, 'recipe.json')).base_model).toEqual({ hub_repo: 'org/tiny' });
    expect(JSON.parse(text(folder.files, 'init_adapter/adapter_config.json')).base_model_name_or_path).toBe('org/tiny');
    expect(JSON.parse(text(folder.files, 'parity.json')).engine_loss).toBeNull();
    expect(text(folder.files, 'data/test.jsonl')).toBe('');
  });

  it('writes model/ for a GGUF base even when it came from the Hub, and refuses full-parameter runs', async () => {
    const folder = memoryFolder();
    await exportRecipe(config, tokenizer, folder, { base: { ...base, repo: 'org/tiny-GGUF' }, baseIsGguf: true, testRows });
    expect(folder.files.has('model/model.safetensors')).toBe(true);
    expect(text(folder.files, 'README.md')).toMatch(/GGUF model de-quantized/);
    await expect(exportRecipe({ ...config, mode: 'full' }, tokenizer, memoryFolder(), { base, testRows })).rejects.toThrow(/only LoRA runs/);
  });
});
