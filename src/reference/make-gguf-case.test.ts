// GENERATE_CASES=1 npx vitest run --project unit src/reference/make-gguf-case.test.ts rewrites the committed
// cases in src/testdata/gguf/<name>/. Without it, this checks them, and checks the F32 conversions (made
// here on the fly) against the PyTorch values.
import { describe, expect, it } from 'vitest';
import { matrixType } from '../model/gguf/convert';
import { dequantize, quantize } from '../engine/ggml';
import { readSafetensors } from '../model/safetensors';
import { type ReferenceCase, loadReferenceCase } from './case';
import { caseReader, readFixtureBytes } from '../testdata/cases.testing';
import { GGUF_CASES, filesReader, makeGgufCase } from './make-gguf-case';
import { relativeError } from './run';

const generate = typeof process !== 'undefined' && process.env.GENERATE_CASES === '1';
const committed = GGUF_CASES.filter((c) => c.committed);

describe.skipIf(!generate)('generate the GGUF cases', () => {
  for (const { name, source, type } of committed) {
    it(`writes gguf/${name}`, async () => {
      const fs = await import('node:fs/promises');
      const dir = new URL(`../testdata/gguf/${name}/`, import.meta.url);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true });
      const files = await makeGgufCase(await loadReferenceCase(caseReader(source)), type, { sourceName: source });
      for (const [file, data] of files) await fs.writeFile(new URL(file, dir), data);
    }, 120_000);
  }
});


/** Index of the first value whose bits differ, -1 when the arrays are identical. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The README's tolerances. */
const TOLERANCES = { logits: 1e-4, tokenLoss: 1e-5, loss: 1e-5, grads: 1e-3, after: 1e-4 };
/** As in reference-step.test.ts: `after` is compared where |grad| is well above AdamW's eps. */
const WELL_CONDITIONED_GRAD = 1e-6;

/** The relative errors of a case's expected values against another case's (same batch and adapter). */
function expectedErrors(actual: ReferenceCase, reference: ReferenceCase) {
  const [a, r] = [actual.expected, reference.expected];
  const T = reference.batch.inputIds[0].length;
  const V = reference.spec.vocabSize;
  const real = (row: number) => reference.batch.attentionMask[Math.floor(row / T)][row % T] === 1;
  let grads = 0;
  let after = 0;
  for (const key of reference.lora.tensors.header.tensors.keys()) {
    const grad = r.tensors.tensor(`grad.${key}`);
    grads = Math.max(grads, relativeError(a.tensors.tensor(`grad.${key}`), grad));
    const wellConditioned = (i: number) => Math.abs(grad[i]) > WELL_CONDITIONED_GRAD;
    after = Math.max(after, relativeError(a.tensors.tensor(`after.${key}`), r.tensors.tensor(`after.${key}`), wellConditioned));
  }
  const relative = (x: number, y: number) => Math.abs(x - y) / Math.abs(y);
  return {
    logits: relativeError(a.tensors.tensor('logits'), r.tensors.tensor('logits'), (i) => real(Math.floor(i / V))),
    tokenLoss: relativeError(a.tensors.tensor('token_loss'), r.tensors.tensor('token_loss')),
    loss: Math.max(
      relative(a.json.loss_all_answers, r.json.loss_all_answers),
      relative(a.json.loss_last_answer, r.json.loss_last_answer),
    ),
    grads,
    after,
  };
}

describe.skipIf(generate)('F32 GGUF conversions of the PyTorch cases', () => {
  for (const { name, source } of GGUF_CASES.filter((c) => c.type === 'F32')) {
    it(`${name}: lossless, and the recomputed expectations match PyTorch's within the tolerances`, async () => {
      const original = await loadReferenceCase(caseReader(source));
      const files = await makeGgufCase(original, 'F32', { sourceName: source });
      const c = await loadReferenceCase(filesReader(files));
      expect(c.baseFormat).toBe('gguf');
      expect(c.spec).toEqual(original.spec);
      expect([...c.weights.header.tensors.keys()].sort()).toEqual([...original.weights.header.tensors.keys()].sort());
      for (const weight of original.weights.header.tensors.keys()) {
        expect(c.weights.info(weight).shape, weight).toEqual(original.weights.info(weight).shape);
        expect(firstDifference(c.weights.tensor(weight), original.weights.tensor(weight)), weight).toBe(-1);
      }
      const errors = expectedErrors(c, original);
      console.log(`${name} recomputed vs PyTorch: ${JSON.stringify(errors)}`);
      for (const key of Object.keys(TOLERANCES) as (keyof typeof TOLERANCES)[]) {
        expect(errors[key], key).toBeLessThanOrEqual(TOLERANCES[key]);
      }
    }, 120_000);
  }
});

describe.skipIf(generate)('committed GGUF cases', () => {
  for (const { name, source, type } of committed) {
    it(`${name}: holds the source's adapter and batch, its weights, and the CPU reference step's values`, async () => {
      const original = await loadReferenceCase(caseReader(source));
      const c = await loadReferenceCase(caseReader(`gguf/${name}`));
      expect(c.baseFormat).toBe('gguf');
      expect(c.spec).toEqual(original.spec);
      expect(c.batch).toEqual(original.batch);
      expect(c.lora.config).toEqual(original.lora.config);
      expect(c.expected.json.optimizer).toEqual(original.expected.json.optimizer);
      for (const key of original.lora.tensors.header.tensors.keys()) {
        expect(firstDifference(c.lora.tensors.tensor(key), original.lora.tensors.tensor(key)), key).toBe(-1);
      }

      // Each weight is the source's, encoded in the type expected.json records, rows in HF order.
      const json = JSON.parse(new TextDecoder().decode(await readFixtureBytes(`gguf/${name}/expected.json`)));
      expect(json.base_model.type).toBe(type);
      const types = json.base_model.tensor_types as Record<string, string>;
      for (const info of c.gguf!.header.tensorInfos) expect(types[info.name], info.name).toBe(info.type);
      for (const weight of original.weights.header.tensors.keys()) {
        const shape = original.weights.info(weight).shape;
        const stored = c.gguf!.tensorBytes(weight);
        const expectedType = shape.length === 1 ? 'F32' : matrixType(type, shape[1]);
        expect(stored.type, weight).toBe(expectedType);
        expect(stored.shape, weight).toEqual(shape);
        const values = original.weights.tensor(weight);
        const roundTrip = dequantize(expectedType, quantize(expectedType, values), values.length);
        expect(firstDifference(c.weights.tensor(weight), roundTrip), weight).toBe(-1);
      }

      // Made again: the same model.gguf, adapter and batch; the same expected values up to float32 storage
      // (exact equality would depend on the platform's Math.exp and friends).
      const remade = await makeGgufCase(original, type, { sourceName: source });
      for (const file of ['model.gguf', 'adapter_config.json', 'adapter_model.safetensors', 'batch.json']) {
        expect(sameBytes(remade.get(file)!, await readFixtureBytes(`gguf/${name}/${file}`)), file).toBe(true);
      }
      const fresh = readSafetensors(remade.get('expected.safetensors')!);
      for (const key of fresh.header.tensors.keys()) {
        expect(relativeError(c.expected.tensors.tensor(key), fresh.tensor(key)), key).toBeLessThan(1e-6);
      }
      const freshJson = JSON.parse(new TextDecoder().decode(remade.get('expected.json')!));
      expect(c.expected.json.loss_all_answers).toBeCloseTo(freshJson.loss_all_answers, 9);
      expect(c.expected.json.loss_last_answer).toBeCloseTo(freshJson.loss_last_answer, 9);

      // How far quantization moves the step from PyTorch's on the original weights (for the README).
      console.log(`${name} vs PyTorch on the original weights: ${JSON.stringify(expectedErrors(c, original))}`);
    }, 120_000);
  }

  it('take at most 4 MB in all', async () => {
    const files = ['model.gguf', 'adapter_config.json', 'adapter_model.safetensors', 'batch.json', 'expected.json', 'expected.safetensors'];
    let total = 0;
    for (const { name } of committed) {
      let bytes = 0;
      for (const file of files) bytes += (await readFixtureBytes(`gguf/${name}/${file}`)).length;
      console.log(`gguf/${name}: ${(bytes / 1024).toFixed(0)} KiB`);
      total += bytes;
    }
    expect(total).toBeLessThan(4 * 1024 * 1024);
  });
});
