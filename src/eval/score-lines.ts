// The JSON Lines contract of `npm run score`: each input line is
// {"metric": "accuracy"|"squad"|"rouge"|"gsm8k", "prediction": "...", "references": ["...", ...]}
// and gives one output line holding exactly that metric's fields. Blank lines are skipped.
import { METRICS, type MetricName, isMetricName, score } from './metrics';

/** A line that cannot be scored; the message names its line number and the problem. */
export class ScoreInputError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = 'ScoreInputError';
  }
}

const describe = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`);
const NAMES = METRICS.map((m) => `"${m}"`).join(', ');

interface ScoreRequest {
  metric: MetricName;
  prediction: string;
  references: string[];
}

/** The request a parsed line holds, or what is wrong with it. */
function scoreRequest(value: unknown): ScoreRequest | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `expected a JSON object, got ${describe(value)}`;
  const { metric, prediction, references } = value as Record<string, unknown>;
  if (metric === undefined) return `missing "metric" (one of ${NAMES})`;
  if (typeof metric !== 'string') return `"metric" must be a string (one of ${NAMES}), got ${describe(metric)}`;
  if (!isMetricName(metric)) return `unknown metric ${JSON.stringify(metric)} (expected one of ${NAMES})`;
  if (prediction === undefined) return 'missing "prediction"';
  if (typeof prediction !== 'string') return `"prediction" must be a string, got ${describe(prediction)}`;
  if (references === undefined) return 'missing "references"';
  if (!Array.isArray(references)) return `"references" must be an array of strings, got ${describe(references)}`;
  if (references.length === 0) return '"references" is empty: give at least one reference';
  const bad = references.findIndex((reference) => typeof reference !== 'string');
  if (bad >= 0) return `"references"[${bad}] must be a string, got ${describe(references[bad])}`;
  return { metric, prediction, references: references as string[] };
}

/** The output line for one input line (1-based `line` for errors), or null for a blank line. */
export function scoreLine(text: string, line: number): string | null {
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScoreInputError(line, `invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const request = scoreRequest(value);
  if (typeof request === 'string') throw new ScoreInputError(line, request);
  return JSON.stringify(score(request.metric, request.prediction, request.references));
}

/**
 * Scores lines in order until the first bad one: `output` holds the lines for the inputs before it (blank
 * lines give none), `error` the bad line's message. Line numbers count every line, blank ones included.
 */
export function scoreLines(lines: Iterable<string>): { output: string[]; error?: string } {
  const output: string[] = [];
  let line = 0;
  for (const text of lines) {
    line++;
    try {
      const result = scoreLine(text, line);
      if (result !== null) output.push(result);
    } catch (error) {
      if (error instanceof ScoreInputError) return { output, error: error.message };
      throw error;
    }
  }
  return { output };
}
