// The merged safetensors, loaded into the engine with no adapter, compute what the base with the adapter computes.
import { describe, expect, it } from 'vitest';
import { type ModelSpec, baseWeightShapes } from '../engine/spec';
import { Model } from '../engine/weights';
import { testGpu } from '../gpu/gpu.testing';
import { readSafetensors, tensorsOf } from '../model/safetensors';
import { mulberry32 } from '../util/random';
import { engineLogits, gpuAdapter, randomExportCase, relativeError } from './export.testing';
import { exportMergedSafetensors } from './merged';
import { memoryFolder } from './sink';

// GQA (4 query heads over 2 kv heads) of 16 dimensions, so that a wrong q/k row order would show.
const SPEC: ModelSpec = {
  arch: 'llama', vocabSize: 64, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, slidingWindow: null, tieWordEmbeddings: false,
  maxPositionEmbeddings: 64, bosTokenId: 1, eosTokenId: 2,
};
const next = mulberry32(9);
const TOKENS = [1, ...Array.from({ length: 11 }, () => 3 + Math.floor(next() * (SPEC.vocabSize - 3)))];
/** Measured 1.8e-6 (the f32 merge against the f32 LoRA branch); the base alone is off by 1.2. */
const TOLERANCE = 1e-4;

describe('merged safetensors export', () => {
  it('loaded with no adapter, gives the logits of the base with the adapter; unmerged it does not', async () => {
    const gpu = await testGpu();
    const { base, adapter, weights } = randomExportCase(SPEC, { rank: 4, alpha: 8 }, 21);
    const shapes = baseWeightShapes(SPEC);
    const model = Model.fromTensors(gpu, SPEC, (name) => (weights.has(name) ? { shape: shapes.get(name)!, data: weights.get(name)! } : undefined));
    const lora = gpuAdapter(gpu, adapter);
    const errors: Record<string, number> = {};
    try {
      const expected = await engineLogits(gpu, model, lora, TOKENS);
      for (const [what, merge] of [['merged', adapter], ['not merged', null]] as const) {
        const folder = memoryFolder();
        await exportMergedSafetensors(base, merge, folder, { dtype: 'F32' });
        const merged = Model.fromTensors(gpu, SPEC, tensorsOf(readSafetensors(folder.files.get('model.safetensors')!)));
        try {
          errors[what] = relativeError(await engineLogits(gpu, merged, null, TOKENS), expected);
        } finally {
          merged.destroy();
        }
      }
    } finally {
      lora.destroy();
      model.destroy();
    }
    console.log(`merged F32 safetensors vs base + adapter: rel err ${errors.merged.toPrecision(3)}; without the merge ${errors['not merged'].toPrecision(3)}`);
    expect(errors.merged).toBeLessThan(TOLERANCE);
    expect(errors['not merged']).toBeGreaterThan(100 * TOLERANCE);
  });
});
