import { describe, expect, it } from 'vitest';
import type { LoraConfig } from '../engine/peft';
import { EMBEDDED_SPEC } from '../model/embedded';
import { defaultRunConfig } from '../train/run-config';
import type { RunRecord } from '../train/protocol';
import { randomHostAdapter } from './adapter.testing';
import type { BaseSource } from './base';
import { exportModel } from './formats';
import { runModelCard } from './run-export';
import { memoryFolder } from './sink';

const LORA: LoraConfig = { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'], useRslora: false };
const run: RunRecord = {
  id: 'r1', name: 'gguf run', createdAt: 0, status: 'done', metrics: [], checkpointStep: 3,
  config: { ...defaultRunConfig(), mode: 'lora', lora: LORA, model: { source: 'cached', id: 'm1', name: 'Llama-3.2-1B.Q4_K_M.gguf' } },
};
const base = (repo: string, repoHoldsGguf: boolean): BaseSource => ({
  spec: EMBEDDED_SPEC, repo, repoHoldsGguf, tensor: async () => new Float32Array(0),
});

describe('the base model an adapter export names', () => {
  it('is the Hub repo of a safetensors base, in the card metadata and adapter_config.json', async () => {
    const folder = memoryFolder();
    await exportModel('peft', base('meta-llama/Llama-3.2-1B', false), randomHostAdapter(EMBEDDED_SPEC, LORA), folder);
    expect(JSON.parse(new TextDecoder().decode(folder.files.get('adapter_config.json'))).base_model_name_or_path).toBe('meta-llama/Llama-3.2-1B');
    expect(runModelCard(run, base('meta-llama/Llama-3.2-1B', false))).toContain('\nbase_model: meta-llama/Llama-3.2-1B\n');
  });

  it('is not a GGUF repo, which transformers and PEFT cannot load: the card names the file and its repo in words', async () => {
    const gguf = base('someone/Llama-3.2-1B-GGUF', true);
    const folder = memoryFolder();
    await exportModel('peft', gguf, randomHostAdapter(EMBEDDED_SPEC, LORA), folder);
    expect(JSON.parse(new TextDecoder().decode(folder.files.get('adapter_config.json'))).base_model_name_or_path).toBeNull();
    const card = runModelCard(run, gguf);
    expect(card).not.toMatch(/^base_model:/m);
    expect(card).toContain('Llama-3.2-1B.Q4_K_M.gguf, a GGUF file of the Hub repo someone/Llama-3.2-1B-GGUF');
  });
});
