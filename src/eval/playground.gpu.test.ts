import { describe, expect, it } from 'vitest';
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { Model } from '../engine/weights';
import { testGpu } from '../gpu/gpu.testing';
import { randomArray } from '../util/random';
import { smallEmbeddedModel } from '../train/model.testing';
import { continuePrompt, promptIds } from './playground';

describe('playground', () => {
  it('continues a prompt with the base model, with a LoRA adapter, and with other weights', async () => {
    const gpu = await testGpu();
    const base = await smallEmbeddedModel();
    const options = { maxNewTokens: 6 };
    const plain = await continuePrompt(gpu, base, null, 'q: 1+2\na:', options);
    expect(plain.tokens).toBeGreaterThan(0);
    expect(plain.tokens).toBeLessThanOrEqual(6);
    expect(plain.tokensPerSecond).toBeGreaterThan(0);

    const config = { rank: 2, alpha: 4, targets: ['q_proj' as const, 'v_proj' as const, 'down_proj' as const] };
    const model = Model.fromTensors(gpu, base.spec, base.tensors);
    const lora = new LoraAdapter(gpu, base.spec, config);
    try {
      const params = randomArray(lora.count, 9).map((v) => v * 3);
      gpu.write(lora.params, params);
      const expected = await new Generator(model, lora).generate([promptIds(base.tokenizer, 'q: 1+2\na:')], { maxNewTokens: 6, stopTokens: [base.tokenizer.eosId!] });
      const adapted = await continuePrompt(gpu, base, { lora: config, params }, 'q: 1+2\na:', options);
      expect(adapted.text).toBe(base.tokenizer.decode(expected.tokens[0]));
      const merged = await continuePrompt(gpu, base, { lora: config, params }, 'q: 1+2\na:', { ...options, merged: true });
      expect(merged.text).toBe(adapted.text);
      await expect(continuePrompt(gpu, base, { lora: config, params: params.subarray(1) }, 'x', options)).rejects.toThrow(/its config implies/);
    } finally {
      lora.destroy();
      model.destroy();
    }

    const other = await smallEmbeddedModel(8);
    const full = await continuePrompt(gpu, base, { model: other }, 'q: 1+2\na:', options);
    expect(full).toMatchObject({ text: (await continuePrompt(gpu, other, null, 'q: 1+2\na:', options)).text });
  });

  it('continues a prompt with a model already on the GPU, which it leaves to the caller', async () => {
    const gpu = await testGpu();
    const host = await smallEmbeddedModel();
    const model = Model.fromTensors(gpu, host.spec, host.tensors);
    const onGpu = { spec: host.spec, tokenizer: host.tokenizer, model };
    const config = { rank: 2, alpha: 4, targets: ['q_proj' as const, 'up_proj' as const] };
    const sizing = new LoraAdapter(gpu, host.spec, config);
    const params = randomArray(sizing.count, 4).map((v) => v * 3);
    sizing.destroy();
    try {
      const allocated = gpu.allocatedBytes;
      const options = { maxNewTokens: 5 };
      expect(await continuePrompt(gpu, onGpu, null, 'q: 3+4\na:', options)).toMatchObject({ text: (await continuePrompt(gpu, host, null, 'q: 3+4\na:', options)).text });
      const branch = await continuePrompt(gpu, onGpu, { lora: config, params }, 'q: 3+4\na:', options);
      expect(branch.text).toBe((await continuePrompt(gpu, host, { lora: config, params }, 'q: 3+4\na:', options)).text);
      expect(gpu.allocatedBytes).toBe(allocated);
      expect((await continuePrompt(gpu, onGpu, { lora: config, params }, 'q: 3+4\na:', { ...options, merged: true })).text).toBe(branch.text);
    } finally {
      model.destroy();
    }
  });
});
