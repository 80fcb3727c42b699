import { describe, expect, it } from 'vitest';
import { loadReferenceCase } from './case';
import type { ModelSpec } from '../engine/spec';
import { REFERENCE_CASES, referenceCaseReader } from '../testdata/cases.testing';
import { randomCase } from './make-case';
import { type CpuStepInput, adamwFirstStep, cpuReferenceStep, stepInputOfCase } from './cpu-step';
import { relativeError } from './run';


const TOLERANCES = { logits: 1e-4, tokenLoss: 1e-5, loss: 1e-5, grads: 1e-3, after: 1e-4 };

/**
 * At step 1 AdamW moves a weight by about lr * g / (|g| + eps): where |g| is near eps (1e-8), float32 noise in
 * PyTorch's gradient changes the step a lot. `after` is compared where |g| is well above that.
 */
const WELL_CONDITIONED_GRAD = 1e-6;

describe('cpuReferenceStep against the PyTorch + PEFT cases', () => {
  for (const name of REFERENCE_CASES) {
    it(`matches ${name}`, async () => {
      const c = await loadReferenceCase(referenceCaseReader(name));
      const out = cpuReferenceStep(stepInputOfCase(c));
      const expected = c.expected.tensors;
      const T = c.batch.inputIds[0].length;
      const V = c.spec.vocabSize;
      const real = (row: number) => c.batch.attentionMask[Math.floor(row / T)][row % T] === 1;

      let grads = 0;
      let after = 0;
      let adamwOnTorchGrads = 0;
      for (const key of out.grads.keys()) {
        const torchGrad = expected.tensor(`grad.${key}`);
        const torchAfter = expected.tensor(`after.${key}`);
        grads = Math.max(grads, relativeError(out.grads.get(key)!, torchGrad));
        const wellConditioned = (i: number) => Math.abs(torchGrad[i]) > WELL_CONDITIONED_GRAD;
        after = Math.max(after, relativeError(out.after.get(key)!, torchAfter, wellConditioned));
        const stepped = adamwFirstStep(c.lora.tensors.tensor(key), torchGrad, c.expected.json.optimizer);
        adamwOnTorchGrads = Math.max(adamwOnTorchGrads, relativeError(stepped, torchAfter));
      }
      const errors = {
        logits: relativeError(out.logits, expected.tensor('logits'), (i) => real(Math.floor(i / V))),
        tokenLoss: relativeError(out.tokenLoss, expected.tensor('token_loss')),
        loss: Math.max(
          Math.abs(out.lossAllAnswers - c.expected.json.loss_all_answers) / Math.abs(c.expected.json.loss_all_answers),
          Math.abs(out.lossLastAnswer - c.expected.json.loss_last_answer) / Math.abs(c.expected.json.loss_last_answer),
        ),
        grads,
        after,
        adamwOnTorchGrads,
      };
      console.log(`${name}: ${JSON.stringify(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, Number(v.toExponential(2))])))}`);
      expect(out.grads.size).toBe(c.lora.tensors.header.tensors.size);
      for (const key of Object.keys(TOLERANCES) as (keyof typeof TOLERANCES)[]) {
        expect(errors[key], key).toBeLessThan(TOLERANCES[key]);
      }
      // The optimizer alone, on PyTorch's own gradients: float32 rounding only.
      expect(adamwOnTorchGrads).toBeLessThan(1e-6);
    }, 60_000);
  }
});

function tinySpec(overrides: Partial<ModelSpec>): ModelSpec {
  return {
    arch: 'llama',
    vocabSize: 23,
    hiddenSize: 12,
    intermediateSize: 10,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    slidingWindow: null,
    tieWordEmbeddings: false,
    maxPositionEmbeddings: 4096,
    bosTokenId: 1,
    eosTokenId: 2,
    ...overrides,
  };
}

/** lossAllAnswers with one LoRA entry replaced. */
function lossWith(input: CpuStepInput, key: string, index: number, value: number): number {
  const tensors = (k: string) => {
    const t = input.lora.tensors(k);
    if (k !== key) return t;
    const copy = t.slice();
    copy[index] = value;
    return copy;
  };
  return cpuReferenceStep({ ...input, lora: { ...input.lora, tensors } }).lossAllAnswers;
}

describe('cpuReferenceStep gradients', () => {
  const cases: [string, ModelSpec, number][] = [
    ['GQA, padding, untied head', tinySpec({}), 2],
    [
      'sliding window, MQA, tied head, Llama 3 RoPE',
      tinySpec({
        arch: 'mistral',
        slidingWindow: 3,
        numKvHeads: 1,
        headDim: 6,
        tieWordEmbeddings: true,
        ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 },
      }),
      3,
    ],
  ];
  for (const [what, spec, pad] of cases) {
    it(`agree with central differences (${what})`, () => {
      const { input } = randomCase({ spec, batch: 2, seqLen: 11, answers: 3, pad, rank: 2, alpha: 3, seed: 7 });
      const out = cpuReferenceStep(input);
      let checked = 0;
      for (const [key, grad] of out.grads) {
        const values = input.lora.tensors(key);
        for (const index of [0, Math.floor(values.length / 2), values.length - 1]) {
          // Perturb in float32, as the inputs are float32, and divide by the step actually taken.
          const plus = Math.fround(values[index] + 1e-3);
          const minus = Math.fround(values[index] - 1e-3);
          const numeric = (lossWith(input, key, index, plus) - lossWith(input, key, index, minus)) / (plus - minus);
          expect(Math.abs(grad[index] - numeric), `${key}[${index}]: ${grad[index]} vs ${numeric}`).toBeLessThan(
            1e-6 + 1e-4 * Math.abs(numeric),
          );
          checked++;
        }
      }
      expect(checked).toBe(2 * 7 * 2 * 3);
    }, 60_000);
  }

  it('applies PyTorch AdamW at step 1: decay, then lr * sign(g) for large gradients', () => {
    const { input } = randomCase({ spec: tinySpec({ numLayers: 1 }), batch: 1, seqLen: 8, answers: 2, pad: 0, rank: 2, alpha: 4, seed: 3 });
    const out = cpuReferenceStep(input);
    const { lr, weight_decay } = input.optimizer;
    for (const [key, grad] of out.grads) {
      const before = input.lora.tensors(key);
      const after = out.after.get(key)!;
      for (let i = 0; i < grad.length; i++) {
        if (Math.abs(grad[i]) < 1e-3) continue;
        expect(after[i]).toBeCloseTo(before[i] * (1 - lr * weight_decay) - lr * Math.sign(grad[i]), 6);
      }
    }
  });
});
