// SQuAD v1.1's answer normalisation, exact match and token F1, as its evaluate-v1.1.py computes them for one
// prediction and one ground truth. No npm package reproduces the script, so it is written out here.

// Python's string.punctuation: the 32 ASCII punctuation characters.
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
// Python's `\b` in a str pattern: word characters are Unicode letters, numbers (not marks) and '_'.
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
// What Python's str.split() splits on: str.isspace() characters (JS's \s lacks \x1c-\x1f and \x85, adds \ufeff).
const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** normalize_answer: lowercase, drop ASCII punctuation, then the articles a/an/the, and collapse whitespace. */
export function normalizeAnswer(text: string): string {
  let s = text.toLowerCase();
  s = Array.from(s, (ch) => (PUNCTUATION.has(ch) ? '' : ch)).join('');
  s = s.replace(ARTICLES, ' ');
  return s.split(PYTHON_WHITESPACE).filter((token) => token !== '').join(' ');
}

function tokens(normalized: string): string[] {
  return normalized === '' ? [] : normalized.split(' ');
}

/** exact_match_score: 1 when the normalised texts are equal, else 0. */
export function squadExactMatch(prediction: string, groundTruth: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(groundTruth) ? 1 : 0;
}

/** f1_score: harmonic mean of token precision and recall over the multiset of normalised tokens; 0 when none is shared. */
export function squadF1(prediction: string, groundTruth: string): number {
  const predictionTokens = tokens(normalizeAnswer(prediction));
  const truthTokens = tokens(normalizeAnswer(groundTruth));
  const truthCounts = new Map<string, number>();
  for (const token of truthTokens) truthCounts.set(token, (truthCounts.get(token) ?? 0) + 1);
  let numSame = 0;
  for (const token of predictionTokens) {
    const left = truthCounts.get(token) ?? 0;
    if (left > 0) {
      numSame++;
      truthCounts.set(token, left - 1);
    }
  }
  // Also when both are empty: the script returns 0 there, while exact match gives 1.
  if (numSame === 0) return 0;
  const precision = numSame / predictionTokens.length;
  const recall = numSame / truthTokens.length;
  return (2 * precision * recall) / (precision + recall);
}
