// Checks one LoRA training step against a reference case computed by HF transformers + PEFT
// (format: src/testdata/reference/README.md).
import type { ActivationDtype } from '../engine/activations';
import type { Objective } from '../engine/trainer';
import type { Gpu } from '../gpu/gpu';
import { createTrainer } from '../train/trainer';
import { type ReferenceCase, caseModel, caseTensors } from './case';

export interface ReferenceErrors {
  logits: number;
  token_loss: number;
  loss_all_answers: number;
  loss_last_answer: number;
  grads: number;
  after: number;
}

/** Max |a - b| / max |b| that a float32 engine must meet (the fixtures' README). */
export const REFERENCE_TOLERANCES: ReferenceErrors = {
  logits: 1e-4,
  token_loss: 1e-5,
  loss_all_answers: 1e-5,
  loss_last_answer: 1e-5,
  grads: 1e-3,
  after: 1e-4,
};

/**
 * The same errors with f16-stored activations (each layer's input rounded to f16 once, about 2^-11 relative),
 * what src/reference/f16.node.gpu.test.ts holds the f16 path to: about 2-3 x the largest error measured on the
 * PyTorch cases (logits 4.3e-3, token_loss 7.2e-4, losses 1.4e-4, grads 5.4e-3, after 4.0e-2; the README has
 * them). `after` is the largest because AdamW's first step, lr * g / (|g| + eps), turns small changes in g
 * into changes of up to lr.
 */
export const F16_REFERENCE_TOLERANCES: ReferenceErrors = {
  logits: 1e-2,
  token_loss: 2e-3,
  loss_all_answers: 5e-4,
  loss_last_answer: 5e-4,
  grads: 1.5e-2,
  after: 1e-1,
};

export function withinTolerances(errors: ReferenceErrors, tolerances: ReferenceErrors = REFERENCE_TOLERANCES): boolean {
  return (Object.keys(tolerances) as (keyof ReferenceErrors)[]).every((k) => errors[k] <= tolerances[k]);
}

/** max |a - b| / max |b| over the entries where keep(i) holds. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, keep: (i: number) => boolean = () => true): number {
  if (actual.length !== expected.length) throw new Error(`size ${actual.length} != expected ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!keep(i)) continue;
    const d = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs the case's step on the GPU: logits, both objectives' losses, the gradients and the AdamW update. */
export async function runReferenceCase(
  gpu: Gpu, c: ReferenceCase, options: { recompute?: boolean; maxTablePartBytes?: number; activations?: ActivationDtype } = {},
): Promise<ReferenceErrors> {
  const { spec } = c;
  const { lora: loraTensors } = caseTensors(c);
  const expected = (name: string) => c.expected.tensors.tensor(name);
  const opt = c.expected.json.optimizer;
  const model = caseModel(gpu, c, options);
  const training = createTrainer(gpu, model, {
    mode: 'lora',
    lora: c.lora.config,
    objective: 'manyicl',
    adamw: { lr: opt.lr, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps, weightDecay: opt.weight_decay },
    maxGradNorm: 0,
    recompute: options.recompute ?? false,
    activations: options.activations,
  });
  const { trainer, trainable: lora } = training;
  try {
    const batch = c.batch;
    const [B, T, V] = [batch.inputIds.length, batch.inputIds[0].length, spec.vocabSize];
    lora.load(loraTensors);
    const logits = await trainer.logits(batch);
    const mask = batch.attentionMask.flat();
    const logitsError = relativeError(logits, expected('logits'), (i) => mask[Math.floor(i / V)] === 1);

    const step = async (objective: Objective, captureGradients: boolean) => {
      lora.load(loraTensors);
      return trainer.step([batch], { objective, captureGradients });
    };
    const last = await step('last-answer', false);
    const all = await step('manyicl', true);
    const after = await lora.read('params');
    const grads = lora.split(all.gradients!);
    let gradsError = 0;
    let afterError = 0;
    const conditioned = 100 * opt.eps;
    for (const e of lora.entries) {
      const expectedGrad = expected(`grad.${e.key}`);
      gradsError = Math.max(gradsError, relativeError(grads.get(e.key)!, expectedGrad));
      // At step 1 AdamW moves each weight by about lr * g / (|g| + eps): where |g| is near eps, float32 noise
      // in g (PyTorch's included) swings the update by up to lr, so those entries say nothing about the engine.
      const keep = (i: number) => Math.abs(expectedGrad[i]) >= conditioned;
      afterError = Math.max(afterError, relativeError(after.get(e.key)!, expected(`after.${e.key}`), keep));
    }
    const tokenLoss = new Float32Array(B * T);
    all.tokenLoss[0].forEach((row, b) => tokenLoss.set(row, b * T));
    const scalarError = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
    return {
      logits: logitsError,
      token_loss: relativeError(tokenLoss, expected('token_loss')),
      loss_all_answers: scalarError(all.loss, c.expected.json.loss_all_answers),
      loss_last_answer: scalarError(last.loss, c.expected.json.loss_last_answer),
      grads: gradsError,
      after: afterError,
    };
  } finally {
    training.destroy();
  }
}
