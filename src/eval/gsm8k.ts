// GSM8K exact match on the final number, with the number pattern of lm-evaluation-harness's flexible extract.

const NUMBER = /-?[$0-9.,]{2,}|-?[0-9]+/g;
// What may remain of a match once commas, '$' and a final '.' are gone: a decimal number, else no value.
const DECIMAL = /^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$/;

/**
 * The value of the last match of the number pattern in the text, with its commas and '$' removed and then one
 * final '.'; null when nothing matches or the last match is no number ("...", "1.2.3").
 */
export function lastNumber(text: string): number | null {
  const matches = text.match(NUMBER);
  if (!matches) return null;
  const cleaned = matches[matches.length - 1].replace(/[,$]/g, '').replace(/\.$/, '');
  return DECIMAL.test(cleaned) ? Number(cleaned) : null;
}

/** 1 when the prediction's last number equals the reference's last number by value ("42.0" = "#### 42"), else 0. */
export function gsm8kExactMatch(prediction: string, reference: string): number {
  const predicted = lastNumber(prediction);
  const expected = lastNumber(reference);
  return predicted !== null && expected !== null && predicted === expected ? 1 : 0;
}
