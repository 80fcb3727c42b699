// The whole training step against HF transformers + PEFT (testdata/reference), and against our float64 CPU
// reference on other shapes (testdata/generated) and on GGUF files with quantized weights (testdata/gguf),
// on the GPU.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/testing';
import { REFERENCE_TOLERANCES, runReferenceCase } from './reference';
import { loadReferenceCase } from './reference-case';
import { GENERATED_CASES, GGUF_CASES, REFERENCE_CASES, caseReader } from './testdata/fixtures';

/** Embedding and LM head in parts of at most 100 rows (64 after alignment), as large models need. */
const split = { maxTableRows: 100 };

const cases: { folder: string; recompute: boolean; maxTableRows?: number }[] = [
  ...REFERENCE_CASES.map((name) => ({ folder: `reference/${name}`, recompute: false })),
  { folder: 'reference/llama-tiny', recompute: true },
  { folder: 'reference/llama-tiny', recompute: false, ...split },
  { folder: 'generated/llama3-tied-long', recompute: false, ...split },
  { folder: 'gguf/llama-tiny-Q4_0', recompute: false, ...split },
  ...GENERATED_CASES.map((name) => ({ folder: `generated/${name}`, recompute: name === 'mistral-window' })),
  ...GGUF_CASES.map((name) => ({ folder: `gguf/${name}`, recompute: false })),
];

describe('training step vs reference cases', () => {
  for (const { folder, recompute, maxTableRows } of cases) {
    const variant = `${recompute ? ' (recomputed activations)' : ''}${maxTableRows ? ` (embedding and LM head split in parts of <= ${maxTableRows} rows)` : ''}`;
    it(`${folder}${variant}`, async () => {
      const gpu = await testGpu();
      const c = await loadReferenceCase(caseReader(folder));
      const maxTablePartBytes = maxTableRows ? maxTableRows * c.spec.hiddenSize * 4 : undefined;
      if (maxTableRows) expect(c.spec.vocabSize).toBeGreaterThan(maxTableRows); // the split really happens
      const errors = await runReferenceCase(gpu, c, { recompute, maxTablePartBytes });
      console.log(`${folder}${variant}: ${JSON.stringify(errors)}`);
      for (const key of Object.keys(REFERENCE_TOLERANCES) as (keyof typeof errors)[]) {
        expect(errors[key], key).toBeLessThanOrEqual(REFERENCE_TOLERANCES[key]);
      }
    });
  }
});
