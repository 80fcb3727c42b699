// ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures as Google's rouge_score (rouge_scorer.py, tokenize.py)
// computes them with use_stemmer=False. Written out here because no npm package reproduces it (js-rouge has
// another tokenizer and is case-sensitive).

export interface RougeScores {
  rouge1: number;
  rouge2: number;
  rougeL: number;
  rougeLsum: number;
}

/** tokenize.tokenize without a stemmer: lowercase, and every run of characters outside [a-z0-9] separates tokens. */
export function rougeTokenize(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/** scoring.fmeasure */
function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' '); // tokens hold no spaces
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** _score_ngrams: clipped n-gram overlap; an empty side counts as 1 in the denominators. */
export function rougeN(target: readonly string[], prediction: readonly string[], n: number): number {
  const targetCounts = ngramCounts(target, n);
  const predictionCounts = ngramCounts(prediction, n);
  let overlap = 0;
  for (const [ngram, count] of targetCounts) overlap += Math.min(count, predictionCounts.get(ngram) ?? 0);
  const targetTotal = Math.max(target.length - n + 1, 0);
  const predictionTotal = Math.max(prediction.length - n + 1, 0);
  return fmeasure(overlap / Math.max(predictionTotal, 1), overlap / Math.max(targetTotal, 1));
}

/** _lcs_table: table[i][j] is the LCS length of ref[:i] and can[:j]; rows are flattened, (cols + 1) wide. */
function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array {
  const cols = can.length + 1;
  const table = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j < cols; j++) {
      table[i * cols + j] =
        ref[i - 1] === can[j - 1]
          ? table[(i - 1) * cols + j - 1] + 1
          : Math.max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
    }
  }
  return table;
}

/** _score_lcs */
export function rougeL(target: readonly string[], prediction: readonly string[]): number {
  if (target.length === 0 || prediction.length === 0) return 0;
  const lcs = lcsTable(target, prediction)[target.length * (prediction.length + 1) + prediction.length];
  return fmeasure(lcs / prediction.length, lcs / target.length);
}

/** lcs_ind: the indices into ref of the one LCS that _backtrack_norec reads out (which one matters for the union). */
function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const table = lcsTable(ref, can);
  const cols = can.length + 1;
  const indices: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      indices.push(i - 1);
      i--;
      j--;
    } else if (table[i * cols + j - 1] > table[(i - 1) * cols + j]) j--;
    else i--;
  }
  return indices.reverse();
}

/** _summary_level_lcs: union LCS of each target sentence against every predicted sentence, hits clipped by token counts. */
export function rougeLsumOfSentences(target: readonly (readonly string[])[], prediction: readonly (readonly string[])[]): number {
  if (target.length === 0 || prediction.length === 0) return 0;
  const m = target.reduce((sum, s) => sum + s.length, 0);
  const n = prediction.reduce((sum, s) => sum + s.length, 0);
  if (m === 0 || n === 0) return 0;
  const countsOf = (sentences: readonly (readonly string[])[]) => {
    const counts = new Map<string, number>();
    for (const s of sentences) for (const token of s) counts.set(token, (counts.get(token) ?? 0) + 1);
    return counts;
  };
  const targetCounts = countsOf(target);
  const predictionCounts = countsOf(prediction);
  let hits = 0;
  for (const ref of target) {
    const union = new Set<number>();
    for (const can of prediction) for (const index of lcsIndices(ref, can)) union.add(index);
    for (const index of [...union].sort((a, b) => a - b)) {
      const token = ref[index];
      const inPrediction = predictionCounts.get(token) ?? 0;
      const inTarget = targetCounts.get(token) ?? 0;
      if (inPrediction > 0 && inTarget > 0) {
        hits++;
        predictionCounts.set(token, inPrediction - 1);
        targetCounts.set(token, inTarget - 1);
      }
    }
  }
  return fmeasure(hits / n, hits / m);
}

/** get_sents: the text split on '\n', empty pieces dropped, each piece tokenized (it may have no tokens). */
function sentences(text: string): string[][] {
  return text
    .split('\n')
    .filter((s) => s.length > 0)
    .map(rougeTokenize);
}

/** RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']).score(target, prediction), F-measures only. */
export function rougeScores(target: string, prediction: string): RougeScores {
  const targetTokens = rougeTokenize(target);
  const predictionTokens = rougeTokenize(prediction);
  return {
    rouge1: rougeN(targetTokens, predictionTokens, 1),
    rouge2: rougeN(targetTokens, predictionTokens, 2),
    rougeL: rougeL(targetTokens, predictionTokens),
    rougeLsum: rougeLsumOfSentences(sentences(target), sentences(prediction)),
  };
}
