import { describe, expect, it } from 'vitest';
import type { LoraConfig } from '../engine/peft';
import type { ModelSpec } from '../engine/spec';
import { EMBEDDED_SPEC } from '../model/embedded';
import { readSafetensors, writeSafetensors } from '../model/safetensors';
import type { HostAdapter } from './adapter';
import { randomHostAdapter } from './adapter.testing';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, modelCard, peftFilesOf, readPeftAdapter, unzipFiles, zipFiles } from './peft';

const SPEC: ModelSpec = { ...EMBEDDED_SPEC, numLayers: 2 };
const CONFIG: LoraConfig = { rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false };

const filesOf = (adapter: HostAdapter) => {
  const files = peftFilesOf(adapter, 'org/base');
  return new Map<string, Uint8Array | string>(Object.entries(files));
};
const reader = (files: Map<string, Uint8Array | string>) => (name: string) => {
  const f = files.get(name);
  return typeof f === 'string' ? new TextEncoder().encode(f) : f;
};

describe('PEFT export and import', () => {
  it('round-trips bit for bit through a zip', () => {
    const adapter = randomHostAdapter(SPEC, CONFIG);
    const zip = zipFiles(filesOf(adapter));
    const back = readPeftAdapter((name) => unzipFiles(zip, 'a.zip').get(name), SPEC, 'a.zip');
    expect(back.config).toEqual(CONFIG);
    expect([...back.tensors.keys()]).toEqual([...adapter.tensors.keys()]);
    for (const [key, data] of adapter.tensors) expect(new Uint8Array(back.tensors.get(key)!.buffer)).toEqual(new Uint8Array(data.buffer));
    const config = JSON.parse(filesOf(adapter).get(ADAPTER_CONFIG) as string);
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0, base_model_name_or_path: 'org/base' });
  });

  it('reads a zip of a folder (paths with a directory)', () => {
    const files = filesOf(randomHostAdapter(SPEC, CONFIG));
    const zip = zipFiles(new Map([...files].map(([name, content]) => [`my-adapter/${name}`, content])));
    expect(readPeftAdapter((name) => unzipFiles(zip, 'b.zip').get(name), SPEC, 'b.zip').tensors.size).toBe(2 * 7 * 2);
  });

  it('reads the shallowest adapter of a zip with checkpoints beside it, and refuses two at the same depth', () => {
    const top = randomHostAdapter(SPEC, CONFIG);
    const nested = randomHostAdapter(SPEC, CONFIG);
    const inFolder = (folder: string, files: Map<string, Uint8Array | string>) => [...files].map(([name, content]) => [`${folder}${name}`, content] as const);
    const zip = zipFiles(new Map([...inFolder('run/', filesOf(top)), ...inFolder('run/checkpoint-100/', filesOf(nested)), ['__MACOSX/run/._adapter_config.json', 'x']]));
    const back = readPeftAdapter((name) => unzipFiles(zip, 'c.zip').get(name), SPEC, 'c.zip');
    for (const [key, data] of top.tensors) expect(new Uint8Array(back.tensors.get(key)!.buffer)).toEqual(new Uint8Array(data.buffer));
    const two = zipFiles(new Map([...inFolder('a/', filesOf(top)), ...inFolder('b/', filesOf(nested))]));
    expect(() => unzipFiles(two, 'two.zip')).toThrow('two.zip: holds 2 adapters (a/, b/); zip one adapter folder at a time');
  });

  it('refuses an adapter for another model, naming the tensor and the reason', () => {
    const files = filesOf(randomHostAdapter({ ...SPEC, hiddenSize: SPEC.hiddenSize * 2 }, CONFIG));
    expect(() => readPeftAdapter(reader(files), SPEC, 'other.zip')).toThrow(
      /other\.zip: adapter_model\.safetensors: base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has shape \[4, \d+\], expected \[4, \d+\]: the base model's q_proj is \d+ inputs: this adapter was trained for another model/,
    );
  });

  it('refuses a rank that differs from adapter_config.json', () => {
    const files = filesOf(randomHostAdapter(SPEC, CONFIG));
    files.set(ADAPTER_CONFIG, JSON.stringify({ ...JSON.parse(files.get(ADAPTER_CONFIG) as string), r: 8 }));
    expect(() => readPeftAdapter(reader(files), SPEC, 'x')).toThrow(/its rank is 4, but adapter_config\.json says r = 8/);
  });

  it('refuses an adapter with more layers or other targets than the base model', () => {
    const deeper = filesOf(randomHostAdapter({ ...SPEC, numLayers: 3 }, CONFIG));
    expect(() => readPeftAdapter(reader(deeper), SPEC, 'x')).toThrow(/should not have .*layers\.2\./);
    const fewer = filesOf(randomHostAdapter(SPEC, { ...CONFIG, targets: ['q_proj'] }));
    fewer.set(ADAPTER_CONFIG, JSON.stringify({ ...JSON.parse(fewer.get(ADAPTER_CONFIG) as string), target_modules: ['q_proj', 'v_proj'] }));
    expect(() => readPeftAdapter(reader(fewer), SPEC, 'x')).toThrow(/lacks base_model\.model\.model\.layers\.0\.self_attn\.v_proj\.lora_A\.weight/);
  });

  it('refuses missing files, bad JSON, unsupported options and non-finite values', () => {
    const files = filesOf(randomHostAdapter(SPEC, CONFIG));
    expect(() => readPeftAdapter((n) => (n === ADAPTER_CONFIG ? undefined : reader(files)(n)), SPEC, 'x')).toThrow(/x: no adapter_config\.json/);
    expect(() => readPeftAdapter((n) => (n === ADAPTER_WEIGHTS ? undefined : reader(files)(n)), SPEC, 'x')).toThrow(/x: no adapter_model\.safetensors/);
    expect(() => readPeftAdapter((n) => (n === ADAPTER_CONFIG ? new TextEncoder().encode('{') : reader(files)(n)), SPEC, 'x')).toThrow(/not valid JSON/);
    const dora = new Map(files);
    dora.set(ADAPTER_CONFIG, JSON.stringify({ ...JSON.parse(files.get(ADAPTER_CONFIG) as string), use_dora: true }));
    expect(() => readPeftAdapter(reader(dora), SPEC, 'x')).toThrow(/use_dora = true is not supported/);
    const weights = readSafetensors(files.get(ADAPTER_WEIGHTS) as Uint8Array);
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, info] of weights.header.tensors) tensors[name] = { shape: info.shape, data: weights.tensor(name) };
    const first = Object.keys(tensors)[0];
    tensors[first].data[3] = NaN;
    const nan = new Map(files);
    nan.set(ADAPTER_WEIGHTS, writeSafetensors(tensors));
    expect(() => readPeftAdapter(reader(nan), SPEC, 'x')).toThrow(/non-finite value at index 3/);
  });

  it('writes a model card with the Hub metadata, the training and the evaluation', () => {
    const card = modelCard({
      title: 'sentiment ManyICL', baseModel: 'meta-llama/Llama-3.2-1B', baseModelOnHub: true, objective: 'manyicl',
      tasks: [{ task: 'sst2', weight: 3 }, { task: 'gsm8k', weight: 1 }], lora: CONFIG, steps: 20, contextLength: 256, tokens: 20480,
      finalLoss: 1.23456, finalTaskLosses: { sst2: 0.5 }, evaluation: { heading: 'Evaluation', markdown: '| task | acc |\n| --- | --- |\n| sst2 | 0.9 |' },
    });
    expect(card.startsWith('---\nlibrary_name: peft\nbase_model: meta-llama/Llama-3.2-1B\n')).toBe(true);
    expect(card).toContain('| sst2 | 75% | 0.5000 |');
    expect(card).toContain('| gsm8k | 25% | n/a |');
    expect(card).toContain('20,480 tokens');
    expect(card).toContain('## Evaluation\n\n| task | acc |');
  });
});
