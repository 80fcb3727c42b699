// The evaluation protocol of the study. Every task has a held-out test split that training never sees (by input
// text: splitSource). Test example i is asked with k shots drawn from the training split, in the template and with
// the per-context label renaming that training uses, and the answer is generated greedily until the template's
// end of answer or EOS. The family's metric scores it against the (renamed) reference answer.
import { DrawWithoutReplacement, Rng, hashSeed } from '../data/seeds';
import { type Example, TEST_FRACTION, type TaskFamily, type TaskSource, applyLabelMap, contextLabelMap, heldOutSplit } from '../data/tasks';
import { renderShot } from '../data/templates';
import type { Tokenizer } from '../data/tokenizer';
import { type MetricName, score } from './metrics';

/** The shot counts evaluated by default; the most that fit the context is added per task. */
export const DEFAULT_SHOTS: readonly number[] = [0, 1, 4, 16];

export interface EvalTask {
  name: string;
  family: TaskFamily;
  /** Shots are drawn from here: the examples training may see. */
  train: TaskSource;
  /** Never trained on. */
  test: TaskSource;
}

/** A task's train and held-out test splits, as runs split it (by input text: no test input is a training input). */
export function evalTask(source: TaskSource, testFraction = TEST_FRACTION): EvalTask {
  const { train, test } = heldOutSplit(source, testFraction);
  return { name: source.name, family: source.family, train, test };
}

/** The metric of a task family: accuracy for labels, ROUGE for summaries, SQuAD EM/F1 for QA, GSM8K EM for math. */
export function familyMetric(family: TaskFamily): MetricName {
  switch (family) {
    case 'classification':
    case 'nli':
      return 'accuracy';
    case 'summarization':
      return 'rouge';
    case 'qa':
      return 'squad';
    case 'math':
      return 'gsm8k';
  }
}

export interface EvalPrompt {
  /** Token ids: BOS, the shots (prompt, target, separator each), then the test example's prompt. */
  ids: number[];
  /** The test example's answer as this prompt names it (label renaming applied). */
  reference: string;
  /** A label task's labels as this prompt names them (the candidates when ranking). */
  labels?: string[];
  exampleId: string;
  shots: number;
}

/**
 * Test example `index` of the task with `shots` shots from its training split. Text pieces are encoded one at
 * a time as the packer does, so the shots are the same tokens the model was trained on.
 */
export function evalPrompt(task: EvalTask, tokenizer: Tokenizer, index: number, shots: number, seed: number): EvalPrompt {
  const rng = new Rng(hashSeed('eval', seed, task.name, index, shots));
  const map = contextLabelMap(task.test, rng);
  const rename = (e: Example) => (map ? applyLabelMap(e, map) : e);
  const test = rename(task.test.example(index));
  const draw = new DrawWithoutReplacement(task.train.size, rng);
  const chosen: Example[] = [];
  const seen = new Set([test.input]);
  while (chosen.length < shots) {
    const i = draw.next();
    if (i === null) throw new Error(`task ${task.name}: its training split has fewer than ${shots} examples with other inputs`);
    const example = task.train.example(i);
    if (seen.has(example.input)) continue;
    seen.add(example.input);
    chosen.push(rename(example));
  }
  const { template } = task.test;
  const ids: number[] = tokenizer.bosId !== null ? [tokenizer.bosId] : [];
  const encode = (text: string) => (text === '' ? [] : tokenizer.encode(text));
  for (const example of chosen) {
    const shot = renderShot(template, example);
    ids.push(...encode(shot.prompt), ...encode(shot.target), ...encode(template.separator));
  }
  ids.push(...encode(renderShot(template, test).prompt));
  const labels = task.test.labels?.map((label) => map?.[label] ?? label);
  return { ids, reference: test.answer, exampleId: test.id, shots, ...(labels ? { labels } : {}) };
}

/** Where a generated answer ends: the text the template puts after '{answer}' (e.g. '\n'), if any. */
export function answerEnd(task: EvalTask): string | null {
  const after = task.test.template.target.split('{answer}')[1];
  return after === '' ? null : after;
}

/** The most shots (up to `limit`) whose prompt leaves `answerTokens` of room in the context, for test example 0. */
export function maxShotsThatFit(task: EvalTask, tokenizer: Tokenizer, contextLength: number, answerTokens: number, seed: number, limit = 256): number {
  let fits = 0;
  for (let k = 1; k <= Math.min(limit, task.train.size); k++) {
    if (evalPrompt(task, tokenizer, 0, k, seed).ids.length + answerTokens > contextLength) break;
    fits = k;
  }
  return fits;
}

/** The shot counts to evaluate: the defaults that fit, and the most that fit. */
export function shotCounts(maxFit: number, requested: readonly number[] = DEFAULT_SHOTS): number[] {
  return [...new Set([...requested.filter((k) => k <= maxFit), maxFit])].sort((a, b) => a - b);
}

/** The task family's scores of one prediction, by field (accuracy; exact_match and f1; rouge1 ... rougeLsum). */
export function scorePrediction(family: TaskFamily, prediction: string, reference: string): Record<string, number> {
  return { ...score(familyMetric(family), prediction, [reference]) };
}

/** The mean of each field over predictions. */
export function meanScores(scores: readonly Record<string, number>[]): Record<string, number> {
  const mean: Record<string, number> = {};
  if (scores.length === 0) return mean;
  for (const key of Object.keys(scores[0])) mean[key] = scores.reduce((sum, s) => sum + s[key], 0) / scores.length;
  return mean;
}

/** The headline field of a family's scores, for tables and curves. */
export function headlineScore(family: TaskFamily, scores: Record<string, number>): number {
  switch (familyMetric(family)) {
    case 'accuracy':
      return scores.accuracy;
    case 'rouge':
      return scores.rougeL;
    case 'squad':
      return scores.f1;
    case 'gsm8k':
      return scores.exact_match;
  }
}
