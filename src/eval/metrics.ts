// The evaluation metrics of the ManyICL study. Each scores one prediction against one or more references and
// takes, per field, the maximum over the references; every value is in [0, 1].
import { gsm8kExactMatch } from './gsm8k';
import { type RougeScores, rougeScores } from './rouge';
import { squadExactMatch, squadF1 } from './squad';

export const METRICS = ['accuracy', 'squad', 'rouge', 'gsm8k'] as const;
export type MetricName = (typeof METRICS)[number];

export interface MetricScores {
  accuracy: { accuracy: number };
  squad: { exact_match: number; f1: number };
  rouge: RougeScores;
  gsm8k: { exact_match: number };
}

export function isMetricName(name: string): name is MetricName {
  return (METRICS as readonly string[]).includes(name);
}

const maxOver = <T>(items: readonly T[], score: (item: T) => number) =>
  items.reduce((best, item) => Math.max(best, score(item)), 0);

/** Equality after SQuAD's normalisation (lowercase, no punctuation, no a/an/the, collapsed whitespace). */
export function accuracy(prediction: string, references: readonly string[]): MetricScores['accuracy'] {
  return { accuracy: maxOver(references, (reference) => squadExactMatch(prediction, reference)) };
}

/** SQuAD v1.1's exact match and token F1 (metric_max_over_ground_truths), as fractions. */
export function squad(prediction: string, references: readonly string[]): MetricScores['squad'] {
  return {
    exact_match: maxOver(references, (reference) => squadExactMatch(prediction, reference)),
    f1: maxOver(references, (reference) => squadF1(prediction, reference)),
  };
}

/** rouge_score's F-measures without stemming, each the maximum over the references (the reference is the target). */
export function rouge(prediction: string, references: readonly string[]): RougeScores {
  const scores = references.map((reference) => rougeScores(reference, prediction));
  return {
    rouge1: maxOver(scores, (s) => s.rouge1),
    rouge2: maxOver(scores, (s) => s.rouge2),
    rougeL: maxOver(scores, (s) => s.rougeL),
    rougeLsum: maxOver(scores, (s) => s.rougeLsum),
  };
}

/** 1 when the prediction's last number equals some reference's last number ("#### 42") by value. */
export function gsm8k(prediction: string, references: readonly string[]): MetricScores['gsm8k'] {
  return { exact_match: maxOver(references, (reference) => gsm8kExactMatch(prediction, reference)) };
}

/** The named metric's scores; references must not be empty. */
export function score<M extends MetricName>(metric: M, prediction: string, references: readonly string[]): MetricScores[M] {
  if (references.length === 0) throw new Error('no references to score against');
  const scorers: { [K in MetricName]: (prediction: string, references: readonly string[]) => MetricScores[K] } = {
    accuracy,
    squad,
    rouge,
    gsm8k,
  };
  return scorers[metric](prediction, references);
}
