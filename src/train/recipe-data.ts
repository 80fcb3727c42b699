// A run's training data as another trainer takes it: the packer's contexts in training order, each with the mask
// of the tokens our engine computes the loss on, in Hugging Face's alignment (see recipeRow).
import { ContextStream, type PackedContext, toSequenceBatch } from '../data/packer';
import type { Tokenizer } from '../data/tokenizer';
import { type SequenceBatch, collectTargets } from '../engine/trainer';
import { lossObjective } from './objectives';
import { type RunConfig, streamOptions } from './run-config';

/** One packed context as a row of data/train.jsonl. */
export interface RecipeRow {
  /** Position of the context in the run's stream: row i is the i-th context trained on. */
  index: number;
  input_ids: number[];
  /** 1 where the token carries loss: HF's labels are input_ids there and -100 elsewhere. */
  assistant_masks: number[];
  /** Present when the context ends in padding (1 real, 0 padding). */
  attention_mask?: number[];
  /** Every answer of the context, [start, end) in input positions, whether or not it carries loss. */
  spans: { start: number; end: number; task: string; shot: number }[];
}

/** Contexts the run trains on: steps x batch x accumulation. */
export const recipeContextCount = (config: RunConfig): number => config.steps * config.batchSize * config.gradAccumulation;

/** The run's contexts in training order (the stream a fresh run reads), one at a time. */
export function* recipeContexts(config: RunConfig, tokenizer: Tokenizer, count = recipeContextCount(config)): Generator<PackedContext> {
  const stream = new ContextStream(streamOptions(config, tokenizer));
  for (let i = 0; i < count; i++) yield stream.contextAt(i);
}

/**
 * A context as a row. Our labels sit at the input position of the token they name, and the engine predicts the
 * label at t from position t-1 (collectTargets), which is HF's causal-LM alignment: the loss shifts labels left
 * by one. So the mask is 1 exactly at the positions collectTargets makes targets of for the run's objective.
 */
export function recipeRow(context: PackedContext, config: Pick<RunConfig, 'objective'>, vocabSize: number): RecipeRow {
  const targets = collectTargets(toSequenceBatch([context]), lossObjective(config.objective), vocabSize);
  const mask = context.inputIds.map(() => 0);
  targets.positions.forEach(([, t], p) => {
    if (targets.inObjective[p]) mask[t] = 1;
  });
  const padded = context.attentionMask.includes(0);
  return {
    index: context.index,
    input_ids: context.inputIds.slice(),
    assistant_masks: mask,
    ...(padded ? { attention_mask: context.attentionMask.slice() } : {}),
    spans: context.answers.map((a) => ({ start: a.span[0], end: a.span[1], task: a.task, shot: a.shot })),
  };
}

/** The micro-batches of optimizer step `step` (1-based), as the training session builds them. */
export function stepBatches(config: RunConfig, tokenizer: Tokenizer, step = 1): SequenceBatch[] {
  const perStep = config.batchSize * config.gradAccumulation;
  const stream = new ContextStream(streamOptions(config, tokenizer), (step - 1) * perStep);
  const contexts = stream.next(perStep);
  const batches: SequenceBatch[] = [];
  for (let i = 0; i < contexts.length; i += config.batchSize) batches.push(toSequenceBatch(contexts.slice(i, i + config.batchSize)));
  return batches;
}
