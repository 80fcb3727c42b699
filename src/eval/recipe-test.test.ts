// The recipe's held-out rows, and its Python scorer (src/export/recipe/recipe_lib.py, run with python3) against
// the app's metrics, answer parsing and learning-rate schedule.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAnswer } from '../data/templates';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadTokenizer } from '../model/tokenizer';
import { type RunConfig, defaultRunConfig, taskSources } from '../train/run-config';
import { learningRate } from '../train/schedule';
import { type MetricName, score } from './metrics';
import { answerEnd, evalPrompt, evalTask } from './protocol';
import { recipeTestRows } from './recipe-test';

const read = (name: string) => JSON.parse(readFileSync(`public/${EMBEDDED_MODEL_PATH}/${name}`, 'utf8'));
const tokenizer = loadTokenizer({ tokenizer: read('tokenizer.json'), config: read('tokenizer_config.json') });

function python(script: string, input: unknown): unknown {
  const out = execFileSync('python3', ['-c', `import json, sys\nsys.path.insert(0, 'src/export/recipe')\nfrom recipe_lib import *\ndata = json.load(sys.stdin)\n${script}`], {
    input: JSON.stringify(input), encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('recipeTestRows', () => {
  const config: RunConfig = { ...defaultRunConfig(), tasks: [{ task: 'sentiment', weight: 1 }, { task: 'word-problems', weight: 1 }] };

  it("holds every task's prompts as the evaluation protocol builds them", () => {
    const rows = recipeTestRows(config, tokenizer, { examples: 3, shots: [0, 2], maxAnswerTokens: 8 });
    const tasks = taskSources(config).map((s) => evalTask(s.task, config.testFraction));
    for (const task of tasks) {
      const mine = rows.filter((r) => r.task === task.name);
      const shots = [...new Set(mine.map((r) => r.shots))];
      expect(shots.slice(0, 2)).toEqual([0, 2]);
      expect(shots.length).toBeGreaterThanOrEqual(2); // the most that fit is added when above 2
      for (const row of mine) {
        const i = mine.filter((r) => r.shots === row.shots).indexOf(row);
        const prompt = evalPrompt(task, tokenizer, i, row.shots, config.seed);
        expect(row).toMatchObject({ prompt_ids: prompt.ids, reference: prompt.reference, example_id: prompt.exampleId, max_new_tokens: 8, answer_end: answerEnd(task) });
      }
      expect(mine.filter((r) => r.shots === 0)).toHaveLength(3);
    }
    expect(rows.find((r) => r.task === 'sentiment')?.metric).toBe('accuracy');
    expect(rows.find((r) => r.task === 'word-problems')?.metric).toBe('gsm8k');
  });

  it('is empty for a run that holds out no test split', () => {
    expect(recipeTestRows({ ...config, testFraction: undefined }, tokenizer)).toEqual([]);
  });
});

describe("recipe_lib.py agrees with the app's code", () => {
  it('learning_rate is the app schedule, and lr_factor(k) its step k + 1', () => {
    const cfgs = [
      { lr: 1e-3, warmupSteps: 20, minLrRatio: 0.1, steps: 500 },
      { lr: 3e-4, warmupSteps: 0, minLrRatio: 0, steps: 7 },
      { lr: 2e-4, warmupSteps: 10, minLrRatio: 0.25, steps: 10 },
    ];
    for (const c of cfgs) {
      const steps = Array.from({ length: c.steps + 2 }, (_, i) => i + 1);
      const recipe = { optimizer: { lr: c.lr }, schedule: { warmup_steps: c.warmupSteps, min_lr_ratio: c.minLrRatio, steps: c.steps } };
      const got = python(
        'r = data["recipe"]; f = lr_factor(r)\nprint(json.dumps([[learning_rate(s, r["optimizer"]["lr"], r["schedule"]["warmup_steps"], r["schedule"]["min_lr_ratio"], r["schedule"]["steps"]), f(s - 1) * r["optimizer"]["lr"]] for s in data["steps"]]))',
        { recipe, steps },
      ) as [number, number][];
      steps.forEach((s, i) => {
        expect(got[i][0]).toBeCloseTo(learningRate(s, c), 15);
        expect(got[i][1]).toBeCloseTo(learningRate(s, c), 15);
      });
    }
  });

  it('score and parse_answer give the same values as metrics.ts and parseAnswer', () => {
    const cases: [MetricName, string, string[]][] = [
      ['accuracy', 'Positive.', ['positive']],
      ['accuracy', 'the  negative', ['negative', 'x']],
      ['accuracy', 'neutral', ['negative']],
      ['squad', 'The Eiffel tower, Paris', ['Eiffel Tower in Paris', 'paris']],
      ['squad', 'an apple a day', ['apple apple day']],
      ['squad', '', ['']],
      ['squad', 'Ünïcode café!', ['unïcode café']],
      ['rouge', 'the cat sat on the mat\nand slept', ['the cat lay on the mat\nit slept well']],
      ['rouge', 'a b c d', ['d c b a']],
      ['rouge', '', ['something']],
      ['rouge', 'one two\n\nthree one two', ['one two three\ntwo one']],
      ['gsm8k', 'so she has 1,234 apples.', ['#### 1234']],
      ['gsm8k', 'The answer is $42.00', ['#### 42']],
      ['gsm8k', 'maybe 7 or 8', ['#### 7']],
      ['gsm8k', 'no number', ['#### 3']],
      ['gsm8k', '-.5 left', ['#### -0.5']],
      ['gsm8k', 'version 1.2.3', ['#### 1.2']],
    ];
    const got = python('print(json.dumps([score(m, p, r) for m, p, r in data]))', cases) as Record<string, number>[];
    cases.forEach(([metric, prediction, references], i) => {
      const want = score(metric, prediction, references) as unknown as Record<string, number>;
      expect(Object.keys(got[i]).sort()).toEqual(Object.keys(want).sort());
      for (const key of Object.keys(want)) expect(got[i][key], `${metric} ${JSON.stringify(prediction)} ${key}`).toBeCloseTo(want[key], 12);
    });

    const template = { id: 't', prompt: 'q: {input}\na:', target: ' {answer}\n', separator: '\n' };
    const texts = [' 42\nq: next', '42', ' yes \n', 'no end marker ', '\n7'];
    const parsed = python('print(json.dumps([parse_answer(" ", "\\n", t) for t in data]))', texts) as string[];
    expect(parsed).toEqual(texts.map((t) => parseAnswer(template, t)));
  });
});
