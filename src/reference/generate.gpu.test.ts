import { describe, expect, it } from 'vitest';
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { testGpu } from '../gpu/gpu.testing';
import { caseReader } from '../testdata/cases.testing';
import { caseModel, caseTensors, loadReferenceCase } from './case';
import { generateForCase } from './generate';

describe('generateForCase (npm run generate)', () => {
  it('applies the folder adapter unless asked not to, and gives exactly N tokens', async () => {
    const gpu = await testGpu();
    const read = caseReader('reference/mistral-tiny');
    const c = await loadReferenceCase(read);
    const ids = c.batch.inputIds[1].slice(0, 10);
    const withAdapter = await generateForCase(gpu, read, { prompt: { ids }, maxNewTokens: 7, adapter: true });
    const without = await generateForCase(gpu, read, { prompt: { ids }, maxNewTokens: 7, adapter: false });
    expect(withAdapter.adapter).toBe(true);
    expect(without.adapter).toBe(false);
    expect(withAdapter.tokens).toHaveLength(7);

    const model = caseModel(gpu, c);
    const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
    lora.load(caseTensors(c).lora);
    try {
      expect(withAdapter.tokens).toEqual((await new Generator(model, lora).generate([ids], { maxNewTokens: 7 })).tokens[0]);
      expect(without.tokens).toEqual((await new Generator(model, null).generate([ids], { maxNewTokens: 7 })).tokens[0]);
    } finally {
      lora.destroy();
      model.destroy();
    }
  });

  it('says when a text prompt has no tokenizer to encode it', async () => {
    const gpu = await testGpu();
    await expect(generateForCase(gpu, caseReader('gguf/llama-tiny-F16'), { prompt: { text: 'hi' }, maxNewTokens: 1, adapter: true }))
      .rejects.toThrow(/no tokenizer.json \(nor a GGUF with a tokenizer\): give token ids/);
  });
});
