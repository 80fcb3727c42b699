// The training objectives of the study, one name per idea. A run's objective decides how contexts are packed
// (data/packer) and which answers carry the loss (engine/trainer):
//   manyicl      many-shot contexts; every answer is a target (the method).
//   last-answer  the same contexts; only the final answer is a target (classic few-shot fine-tuning).
//   zero-shot    one example per context; its answer is the target.
//   dedicated    one adapter per task, each trained like manyicl on its task alone.
import type { PackObjective } from '../data/packer';
import type { Objective } from '../engine/trainer';

export const RUN_OBJECTIVES = ['manyicl', 'last-answer', 'zero-shot', 'dedicated'] as const;
export type RunObjective = (typeof RUN_OBJECTIVES)[number];

/** How contexts are packed: a dedicated run packs many-shot contexts of its one task. */
export function packObjective(objective: RunObjective): PackObjective {
  return objective === 'dedicated' ? 'manyicl' : objective;
}

/** Which answers the engine's loss covers: the last one for last-answer, every one otherwise. */
export function lossObjective(objective: RunObjective): Objective {
  return objective === 'last-answer' ? 'last-answer' : 'manyicl';
}
