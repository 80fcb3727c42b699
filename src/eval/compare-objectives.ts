// ManyICL against last-answer-only fine-tuning from the same start, for the same steps on the same contexts:
// the mean loss of the k-th in-context answer, before and after, on held-out contexts.
import { ContextStream, type PackedContext, toSequenceBatch } from '../data/packer';
import { Model } from '../engine/weights';
import type { Trainer } from '../engine/trainer';
import type { Gpu } from '../gpu/gpu';
import { type RunConfig, streamOptions } from '../train/run-config';
import { learningRate } from '../train/schedule';
import type { HostBaseModel } from '../train/session';
import { createTrainer, trainerConfig } from '../train/trainer';

export interface ShotCurve {
  /** Mean loss of answer k (k = 0, 1, ...) over the evaluation contexts. */
  perShot: number[];
  /** Mean over every answer of every evaluation context. */
  mean: number;
}

export interface ObjectiveComparison {
  steps: number;
  evalContexts: number;
  before: ShotCurve;
  after: Record<'manyicl' | 'last-answer', ShotCurve>;
}

async function shotCurve(trainer: Trainer, contexts: PackedContext[], batchSize: number): Promise<ShotCurve> {
  const sum: number[] = [];
  const count: number[] = [];
  let total = 0;
  let n = 0;
  for (let i = 0; i < contexts.length; i += batchSize) {
    const { answerLoss } = await trainer.evaluate(toSequenceBatch(contexts.slice(i, i + batchSize)));
    answerLoss.forEach((losses) =>
      losses.forEach((loss, k) => {
        sum[k] = (sum[k] ?? 0) + loss;
        count[k] = (count[k] ?? 0) + 1;
        total += loss;
        n += 1;
      }),
    );
  }
  return { perShot: sum.map((s, k) => s / count[k]), mean: total / n };
}

/** Trains one copy of the base per objective (same init, contexts and schedule) and evaluates both. */
export async function compareObjectives(
  gpu: Gpu, base: HostBaseModel, config: RunConfig, evalContexts: number, log: (line: string) => void = () => {},
): Promise<ObjectiveComparison> {
  const train = streamOptions({ ...config, objective: 'manyicl' }, base.tokenizer);
  const held = new ContextStream({ ...train, seed: config.seed + 1_000_003 }).next(evalContexts);
  const result = { steps: config.steps, evalContexts } as ObjectiveComparison;
  for (const objective of ['manyicl', 'last-answer'] as const) {
    const training = createTrainer(gpu, Model.fromTensors(gpu, base.spec, base.tensors), trainerConfig({ ...config, objective }));
    const { trainer } = training;
    try {
      result.before ??= await shotCurve(trainer, held, config.batchSize);
      const stream = new ContextStream(train);
      for (let step = 1; step <= config.steps; step++) {
        const batch = toSequenceBatch(stream.next(config.batchSize));
        const r = await trainer.step([batch], { lr: learningRate(step, config) });
        if (step % 10 === 0 || step === config.steps) log(`${objective} step ${step}/${config.steps}: loss ${r.loss.toFixed(4)}`);
      }
      result.after = { ...result.after, [objective]: await shotCurve(trainer, held, config.batchSize) };
    } finally {
      training.destroy();
    }
  }
  return result;
}
