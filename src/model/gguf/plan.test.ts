import { describe, expect, it } from 'vitest';
import { readFixtureBytes } from '../../testdata/cases.testing';
import { parseGgufHeader } from './reader';
import { planForGguf, typeAfterLoad } from './plan';

const options = { batch: 1, seqLen: 32, recompute: false, lora: { rank: 4, targets: ['q_proj', 'v_proj'] as const }, limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 } };

describe('plans of GGUF files', () => {
  it('count linear F16 weights quantized on load as the loader makes them; quantized ones and tables stay', async () => {
    const header = await parseGgufHeader(await readFixtureBytes('gguf/llama-tiny-F16/model.gguf'));
    const asIs = planForGguf(header, options);
    const q8 = planForGguf(header, options, 'Q8_0');
    expect(q8.plan.bytesByGroup.weights).toBeLessThan(asIs.plan.bytesByGroup.weights);
    expect(q8.plan.bytesByGroup.activations).toBe(asIs.plan.bytesByGroup.activations);
    expect(typeAfterLoad('model.layers.0.self_attn.q_proj.weight', 'F16', [64, 64], 'Q8_0')).toBe('Q8_0');
    expect(typeAfterLoad('model.layers.0.self_attn.q_proj.weight', 'F16', [64, 48], 'Q8_0')).toBe('F16'); // rows not whole blocks
    expect(typeAfterLoad('model.layers.0.self_attn.q_proj.weight', 'Q4_0', [64, 64], 'Q8_0')).toBe('Q4_0');
    expect(typeAfterLoad('model.embed_tokens.weight', 'F16', [64, 64], 'Q8_0')).toBe('F16');
  });
});
