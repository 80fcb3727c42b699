import { describe, expect, it } from 'vitest';
import { LoraAdapter } from '../engine/lora';
import { Model } from '../engine/weights';
import { parseAdapterConfig } from '../engine/peft';
import { Trainer } from '../engine/trainer';
import { testGpu } from '../gpu/gpu.testing';
import { readSafetensors } from '../model/safetensors';
import { caseTensors, loadReferenceCase } from '../reference/case';
import { caseReader } from '../testdata/cases.testing';
import { peftFiles } from './peft';

const adamw = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

async function llamaTiny() {
  const gpu = await testGpu();
  const c = await loadReferenceCase(caseReader('reference/llama-tiny'));
  const model = Model.fromTensors(gpu, c.spec, caseTensors(c).base);
  return { gpu, c, model };
}

describe('PEFT export', () => {
  it('trains a LoRA on a subset of layers from PEFT init, and saves it as PEFT reads it', async () => {
    const { c, model, gpu } = await llamaTiny();
    const config = { rank: 2, alpha: 4, targets: ['q_proj' as const, 'v_proj' as const] };
    const lora = new LoraAdapter(gpu, c.spec, config);
    const trainer = new Trainer(model, lora, { objective: 'last-answer', adamw, maxGradNorm: 1, recompute: false });
    try {
      lora.initialize(5);
      const before = await lora.read('params');
      for (const e of lora.entries) {
        const values = before.get(e.key)!;
        if (e.which === 'B') expect(values.every((v) => v === 0)).toBe(true);
        else expect(values.some((v) => v !== 0) && values.every((v) => Math.abs(v) <= 1 / Math.sqrt(e.shape[1]))).toBe(true);
      }
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) losses.push((await trainer.step([c.batch])).loss);
      expect(losses[3]).toBeLessThan(losses[0]);

      const files = await peftFiles(lora, 'llama-tiny');
      const saved = readSafetensors(files['adapter_model.safetensors']);
      expect(parseAdapterConfig(JSON.parse(files['adapter_config.json']))).toEqual({ ...config, useRslora: false });
      expect([...saved.header.tensors.keys()].sort()).toEqual(lora.entries.map((e) => e.key).sort());
      const reloaded = new LoraAdapter(gpu, c.spec, config);
      reloaded.load((key) => ({ shape: saved.info(key).shape, data: saved.tensor(key) }));
      expect(await gpu.readF32(reloaded.params)).toEqual(await gpu.readF32(lora.params));
      reloaded.destroy();
    } finally {
      trainer.destroy();
      lora.destroy();
      model.destroy();
    }
  });

});
