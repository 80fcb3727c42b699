// Runs the evaluation protocol (protocol.ts) on the GPU: greedy generation with the KV cache for every test
// example at every shot count, answers parsed and scored; forgetting as the change of the scores.
import type { TaskFamily } from '../data/tasks';
import { parseAnswer, renderTarget } from '../data/templates';
import type { Tokenizer } from '../data/tokenizer';
import type { Generator } from '../engine/generate';
import { answerLosses } from '../engine/trainer';
import { type EvalPrompt, type EvalTask, answerEnd, evalPrompt, headlineScore, maxShotsThatFit, meanScores, scorePrediction, shotCounts } from './protocol';

export interface EvalOptions {
  /** Shot counts to try (those that fit the context are kept, and the most that fit is added). */
  shots?: readonly number[];
  /** Test examples per task (the first ones of its held-out split). */
  examples: number;
  contextLength: number;
  seed: number;
  /** Prompts generated together. */
  batchSize: number;
  /** Stop an answer after this many tokens at most. */
  maxAnswerTokens: number;
  /** Label tasks: answer with the label of highest likelihood instead of generating (faster, the usual way). */
  rankLabels?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface ShotResult {
  task: string;
  family: TaskFamily;
  shots: number;
  /** Mean of each metric field over the examples, in [0, 1]. */
  scores: Record<string, number>;
  /** The family's headline field (accuracy, rougeL, SQuAD F1, GSM8K EM). */
  score: number;
  predictions: { exampleId: string; prediction: string; reference: string }[];
}

/** Every shot count of one task: prompts built, answers generated greedily, parsed and scored. */
export async function evaluateTask(generator: Generator, tokenizer: Tokenizer, task: EvalTask, options: EvalOptions): Promise<ShotResult[]> {
  const examples = Math.min(options.examples, task.test.size);
  if (examples < 1) throw new Error(`task ${task.name}: no held-out examples to evaluate`);
  const maxFit = maxShotsThatFit(task, tokenizer, options.contextLength, options.maxAnswerTokens, options.seed);
  const counts = shotCounts(maxFit, options.shots);
  const end = answerEnd(task);
  const total = counts.length * examples;
  let done = 0;
  const results: ShotResult[] = [];
  for (const shots of counts) {
    const prompts = Array.from({ length: examples }, (_, i) => evalPrompt(task, tokenizer, i, shots, options.seed));
    const predictions: ShotResult['predictions'] = [];
    for (let i = 0; i < prompts.length; i += options.batchSize) {
      const batch = prompts.slice(i, i + options.batchSize);
      if (options.rankLabels && batch.every((p) => p.labels)) {
        const answers = await rankedLabels(generator, tokenizer, task, batch);
        batch.forEach((p, b) => predictions.push({ exampleId: p.exampleId, prediction: answers[b], reference: p.reference }));
        done += batch.length;
        options.onProgress?.(done, total);
        continue;
      }
      const { tokens } = await generator.generate(batch.map((p) => p.ids), {
        maxNewTokens: options.maxAnswerTokens,
        stopTokens: tokenizer.eosId !== null ? [tokenizer.eosId] : [],
        stopStrings: end ? [end] : [],
        decode: (ids) => tokenizer.decode(ids),
      });
      batch.forEach((p, b) => {
        predictions.push({ exampleId: p.exampleId, prediction: parseAnswer(task.test.template, tokenizer.decode(tokens[b])), reference: p.reference });
      });
      done += batch.length;
      options.onProgress?.(done, total);
    }
    const scores = meanScores(predictions.map((p) => scorePrediction(task.family, p.prediction, p.reference)));
    results.push({ task: task.name, family: task.family, shots, scores, score: headlineScore(task.family, scores), predictions });
  }
  return results;
}

/**
 * Each prompt's label of highest likelihood: the summed log-probability of its target tokens after the prompt
 * (first label on a tie), all candidates of the batch in one forward pass.
 */
export async function rankedLabels(generator: Generator, tokenizer: Tokenizer, task: EvalTask, prompts: readonly EvalPrompt[]): Promise<string[]> {
  const rows = prompts.flatMap((p) =>
    p.labels!.map((label) => {
      const target = tokenizer.encode(renderTarget(task.test.template, label));
      return { ids: [...p.ids, ...target], span: [p.ids.length, p.ids.length + target.length] as [number, number] };
    }),
  );
  const T = Math.max(...rows.map((r) => r.ids.length));
  const pad = (values: number[], fill: number) => [...values, ...new Array<number>(T - values.length).fill(fill)];
  const { answerLoss } = await answerLosses(generator.model, generator.lora, {
    inputIds: rows.map((r) => pad(r.ids, tokenizer.padId)),
    attentionMask: rows.map((r) => pad(r.ids.map(() => 1), 0)),
    labels: rows.map((r) => pad(r.ids.map((id, t) => (t >= r.span[0] ? id : -100)), -100)),
    answerSpans: rows.map((r) => [r.span]),
  });
  let row = 0;
  return prompts.map((p) => {
    const totals = p.labels!.map((_, i) => answerLoss[row + i][0] * (rows[row + i].span[1] - rows[row + i].span[0]));
    row += p.labels!.length;
    return p.labels![totals.indexOf(Math.min(...totals))];
  });
}

export interface ForgettingRow {
  task: string;
  shots: number;
  before: number;
  after: number;
  /** before - after: positive when training lost skill on a task it did not train on. */
  drop: number;
}

/** The drop of each held-out task's headline score, at each shot count evaluated both times, and its mean. */
export function forgetting(before: readonly ShotResult[], after: readonly ShotResult[]): { rows: ForgettingRow[]; meanDrop: number } {
  const rows: ForgettingRow[] = [];
  for (const b of before) {
    const a = after.find((r) => r.task === b.task && r.shots === b.shots);
    if (a) rows.push({ task: b.task, shots: b.shots, before: b.score, after: a.score, drop: b.score - a.score });
  }
  return { rows, meanDrop: rows.length === 0 ? 0 : rows.reduce((sum, r) => sum + r.drop, 0) / rows.length };
}
