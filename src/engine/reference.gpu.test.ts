// The whole training step against HF transformers + PEFT (testdata/reference), and against our float64 CPU
// reference on other shapes (testdata/generated) and on GGUF files with quantized weights (testdata/gguf),
// on the GPU.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/testing';
import { REFERENCE_TOLERANCES, runReferenceCase } from './reference';
import { loadReferenceCase } from './reference-case';
import { GENERATED_CASES, GGUF_CASES, REFERENCE_CASES, caseReader } from './testdata/fixtures';

const cases = [
  ...REFERENCE_CASES.map((name) => ({ folder: `reference/${name}`, recompute: false })),
  { folder: 'reference/llama-tiny', recompute: true },
  ...GENERATED_CASES.map((name) => ({ folder: `generated/${name}`, recompute: name === 'mistral-window' })),
  ...GGUF_CASES.map((name) => ({ folder: `gguf/${name}`, recompute: false })),
];

describe('training step vs reference cases', () => {
  for (const { folder, recompute } of cases) {
    it(`${folder}${recompute ? ' (recomputed activations)' : ''}`, async () => {
      const gpu = await testGpu();
      const c = await loadReferenceCase(caseReader(folder));
      const errors = await runReferenceCase(gpu, c, { recompute });
      console.log(`${folder}${recompute ? ' recompute' : ''}: ${JSON.stringify(errors)}`);
      for (const key of Object.keys(REFERENCE_TOLERANCES) as (keyof typeof errors)[]) {
        expect(errors[key], key).toBeLessThanOrEqual(REFERENCE_TOLERANCES[key]);
      }
    });
  }
});
