// A run's held-out evaluation as rows of a recipe's data/test.jsonl: every prompt the evaluation protocol builds
// (protocol.ts), with what a scorer outside the app needs to parse and score the generated answer as we do.
import type { TaskFamily } from '../data/tasks';
import type { Tokenizer } from '../data/tokenizer';
import { type RunConfig, taskSources, trainSplit } from '../train/run-config';
import type { MetricName } from './metrics';
import { DEFAULT_SHOTS, answerEnd, evalPrompt, evalTask, familyMetric, maxShotsThatFit, shotCounts } from './protocol';

export interface RecipeTestRow {
  task: string;
  family: TaskFamily;
  metric: MetricName;
  shots: number;
  example_id: string;
  /** BOS, the shots and the test example's prompt, as evalPrompt builds them. */
  prompt_ids: number[];
  /** The answer, renamed as the prompt's shots name the labels. */
  reference: string;
  /** The template's text before and after '{answer}': parseAnswer strips the one and cuts at the other. */
  answer_prefix: string;
  answer_end: string | null;
  max_new_tokens: number;
}

export interface RecipeTestOptions {
  /** Test examples per task (the first ones of its held-out split). Default 20, as the study. */
  examples?: number;
  /** Shot counts; those that fit the context are kept and the most that fit is added. Default DEFAULT_SHOTS. */
  shots?: readonly number[];
  /** Default 16, as `npm run study`. */
  maxAnswerTokens?: number;
}

/** The held-out prompts of every task of the run that holds one out (none when the run has no test split). */
export function recipeTestRows(config: RunConfig, tokenizer: Tokenizer, options: RecipeTestOptions = {}): RecipeTestRow[] {
  const { testFraction } = config;
  if (!testFraction) return [];
  const examples = options.examples ?? 20;
  const maxAnswerTokens = options.maxAnswerTokens ?? 16;
  const rows: RecipeTestRow[] = [];
  for (const { task: source } of taskSources(config)) {
    if (!trainSplit(source, testFraction).heldOut) continue;
    const task = evalTask(source, testFraction);
    const metric = familyMetric(task.family);
    const [prefix] = task.test.template.target.split('{answer}');
    const fit = maxShotsThatFit(task, tokenizer, config.contextLength, maxAnswerTokens, config.seed);
    for (const shots of shotCounts(fit, options.shots ?? DEFAULT_SHOTS)) {
      for (let i = 0; i < Math.min(examples, task.test.size); i++) {
        const prompt = evalPrompt(task, tokenizer, i, shots, config.seed);
        rows.push({
          task: task.name, family: task.family, metric, shots, example_id: prompt.exampleId, prompt_ids: prompt.ids,
          reference: prompt.reference, answer_prefix: prefix, answer_end: answerEnd(task), max_new_tokens: maxAnswerTokens,
        });
      }
    }
  }
  return rows;
}
