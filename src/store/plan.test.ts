import { describe, expect, it } from 'vitest';
import { defaultRunConfig } from '../train/run-config';
import { EMBEDDED_SPEC } from '../model/embedded';
import { planWithTypes } from '../model/gguf/plan';
import { setupPlan } from './models';

const limits = { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 };

describe('setupPlan', () => {
  it('plans a LoRA run on the embedded model as the engine would allocate it, and says when a buffer is too big', async () => {
    const config = { ...defaultRunConfig(), mode: 'lora' as const, contextLength: 128, batchSize: 2 };
    const plan = await setupPlan(config, limits);
    const expected = planWithTypes(EMBEDDED_SPEC, () => 'F32', { batch: 2, seqLen: 128, recompute: false, lora: config.lora, limits });
    expect(plan).toMatchObject({ kind: 'plan', problem: null, maxBinding: 1 << 30 });
    expect(plan.kind === 'plan' && plan.figures.total_bytes).toBe(expected.totalBytes);
    const tiny = await setupPlan(config, { maxStorageBufferBindingSize: 4096, maxBufferSize: 4096 });
    expect(tiny.kind === 'plan' && tiny.problem).toMatch(/This GPU is too small for the run: it binds at most/);
  });

  it('has no plan for full-parameter runs', async () => {
    expect(await setupPlan({ ...defaultRunConfig(), mode: 'full' }, limits)).toMatchObject({ kind: 'none' });
  });
});
