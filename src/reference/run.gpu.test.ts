// The whole training step against HF transformers + PEFT (testdata/reference), and against our float64 CPU
// reference on other shapes (testdata/generated) and on GGUF files with quantized weights (testdata/gguf),
// on the GPU.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { ggufFromHfModel } from '../model/gguf/convert';
import { REFERENCE_TOLERANCES, runReferenceCase } from './run';
import { loadReferenceCase } from './case';
import { GENERATED_CASES, GGUF_CASES, REFERENCE_CASES, caseReader } from '../testdata/cases.testing';

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

describe('the PyTorch cases converted to F32 GGUF, against PyTorch\'s own expectations', () => {
  // F32 conversion is lossless, so the step on the GGUF file (spec from its metadata, Q/K rows un-permuted,
  // Llama-3 scaling from rope_freqs, tied head from the missing output.weight) must match PyTorch directly.
  for (const name of REFERENCE_CASES) {
    it(`reference/${name} as model.gguf (F32)`, async () => {
      const gpu = await testGpu();
      const read = caseReader(`reference/${name}`);
      const original = await loadReferenceCase(read);
      const gguf = ggufFromHfModel({
        spec: original.spec, type: 'F32',
        tensors: (n) => (original.weights.has(n) ? original.weights.tensor(n) : undefined),
      });
      const c = await loadReferenceCase(async (file) => {
        if (file === 'model.gguf') return gguf;
        if (file === 'model.safetensors' || file === 'config.json') throw new Error(`no ${file} in a GGUF case`);
        return read(file);
      });
      expect(c.baseFormat).toBe('gguf');
      expect(c.spec).toEqual(original.spec);
      const errors = await runReferenceCase(gpu, c);
      console.log(`reference/${name} as F32 GGUF: ${JSON.stringify(errors)}`);
      for (const key of Object.keys(REFERENCE_TOLERANCES) as (keyof typeof errors)[]) {
        expect(errors[key], key).toBeLessThanOrEqual(REFERENCE_TOLERANCES[key]);
      }
    }, 300_000);
  }
});
