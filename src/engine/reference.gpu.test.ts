// The whole training step against HF transformers + PEFT (src/engine/testdata/reference), on the GPU.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/testing';
import { REFERENCE_TOLERANCES, runReferenceCase } from './reference';
import { loadReferenceCase } from './reference-case';
import { REFERENCE_CASES, referenceCaseReader } from './testdata/fixtures';

describe('training step vs PyTorch + PEFT', () => {
  for (const name of REFERENCE_CASES) {
    for (const recompute of name === 'llama-tiny' ? [false, true] : [false]) {
      it(`${name}${recompute ? ' (recomputed activations)' : ''}`, async () => {
        const gpu = await testGpu();
        const c = await loadReferenceCase(referenceCaseReader(name));
        const errors = await runReferenceCase(gpu, c, { recompute });
        console.log(`${name}${recompute ? ' recompute' : ''}: ${JSON.stringify(errors)}`);
        for (const key of Object.keys(REFERENCE_TOLERANCES) as (keyof typeof errors)[]) {
          expect(errors[key], key).toBeLessThanOrEqual(REFERENCE_TOLERANCES[key]);
        }
      });
    }
  }
});
