// GENERATE_CASES=1 npx vitest run --project unit src/reference/make-cases.test.ts rewrites
// src/testdata/generated/<name>/ (the same files src/cli/make-cases.ts writes). Without it, this checks
// the committed cases.
import { describe, expect, it } from 'vitest';
import { loadReferenceCase } from './case';
import { readFixtureBytes } from '../testdata/cases.testing';
import { GENERATED_CASES, makeReferenceCase } from './make-case';
import { cpuReferenceStep, stepInputOfCase } from './cpu-step';

const generate = typeof process !== 'undefined' && process.env.GENERATE_CASES === '1';

describe.skipIf(!generate)('generate the cases', () => {
  for (const { name, options } of GENERATED_CASES) {
    it(`writes generated/${name}`, async () => {
      const fs = await import('node:fs/promises');
      const dir = new URL(`../testdata/generated/${name}/`, import.meta.url);
      await fs.mkdir(dir, { recursive: true });
      for (const [file, data] of makeReferenceCase(options)) await fs.writeFile(new URL(file, dir), data);
    }, 120_000);
  }
});

/** max |a - b| / max |b| */
function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff / maxRef;
}

describe.skipIf(generate)('generated cases', () => {
  for (const { name, options } of GENERATED_CASES) {
    it(`${name} loads and holds the CPU reference step's values`, async () => {
      const c = await loadReferenceCase((file) => readFixtureBytes(`generated/${name}/${file}`));
      expect(c.spec).toEqual(options.spec);
      expect(c.batch.inputIds.length).toBe(options.batch);
      expect(c.batch.inputIds[0].length).toBe(options.seqLen);
      expect(c.lora.config.rank).toBe(options.rank);

      const out = cpuReferenceStep(stepInputOfCase(c));
      const expected = c.expected.tensors;
      // Float32 storage only (exact equality would depend on the platform's Math.exp and friends).
      expect(maxRelError(out.logits, expected.tensor('logits'))).toBeLessThan(1e-6);
      expect(maxRelError(out.tokenLoss, expected.tensor('token_loss'))).toBeLessThan(1e-6);
      expect(out.lossAllAnswers).toBeCloseTo(c.expected.json.loss_all_answers, 9);
      expect(out.lossLastAnswer).toBeCloseTo(c.expected.json.loss_last_answer, 9);
      for (const [key, grad] of out.grads) {
        expect(maxRelError(grad, expected.tensor(`grad.${key}`)), key).toBeLessThan(1e-6);
        expect(maxRelError(out.after.get(key)!, expected.tensor(`after.${key}`)), key).toBeLessThan(1e-6);
      }
    }, 60_000);
  }

  it('are small', async () => {
    const files = [...makeReferenceCase(GENERATED_CASES[0].options).keys()];
    for (const { name } of GENERATED_CASES) {
      let bytes = 0;
      for (const file of files) bytes += (await readFixtureBytes(`generated/${name}/${file}`)).length;
      expect(bytes, name).toBeLessThan(2 * 1024 * 1024);
    }
  }, 60_000);
});
