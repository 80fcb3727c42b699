// The training step with f16-stored activations (ActivationOptions.dtype 'f16') against the PyTorch + PEFT
// reference cases: prints the errors (the README reports them) and holds them to F16_REFERENCE_TOLERANCES.
// The f32 path is held to the float32 tolerances in run.gpu.test.ts.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { F16_REFERENCE_TOLERANCES, REFERENCE_TOLERANCES, type ReferenceErrors, runReferenceCase } from './run';
import { loadReferenceCase } from './case';
import { REFERENCE_CASES, caseReader } from '../testdata/cases.testing';

const cases: { folder: string; recompute: boolean }[] = [
  ...REFERENCE_CASES.map((name) => ({ folder: `reference/${name}`, recompute: true })),
  { folder: 'reference/llama-tiny', recompute: false },
];

describe('training step with f16 activations vs reference cases', () => {
  const measured = new Map<string, ReferenceErrors>();
  for (const { folder, recompute } of cases) {
    it(`${folder}, f16 activations${recompute ? ', recomputed' : ''}`, async () => {
      const gpu = await testGpu();
      const c = await loadReferenceCase(caseReader(folder));
      const errors = await runReferenceCase(gpu, c, { recompute, activations: 'f16' });
      console.log(`${folder} f16 activations${recompute ? ' (recomputed)' : ''}: ${JSON.stringify(errors)}`);
      for (const key of Object.keys(F16_REFERENCE_TOLERANCES) as (keyof typeof errors)[]) {
        expect(errors[key], key).toBeLessThanOrEqual(F16_REFERENCE_TOLERANCES[key]);
      }
      // The rounding is real: the logits move by more than the float32 path's tolerance.
      expect(errors.logits).toBeGreaterThan(REFERENCE_TOLERANCES.logits);
      // The recomputation starts from the same f16 values the forward went on from: identical results.
      const other = measured.get(folder);
      if (other) expect(errors).toEqual(other);
      measured.set(folder, errors);
    });
  }
});
