import { describe, expect, it } from 'vitest';
import { Rng } from './seeds';
import {
  BUILTIN_TASKS, type Example, LABEL_WORDS, type TaskSource, applyLabelMap, arithmeticTask, drawLabelMap,
  keyEntityTask, listSource, nliTask, passageQaTask, sentimentTask, splitSource, topicTask, wordProblemTask,
} from './tasks';
import { DEFAULT_ALPHABET } from './tokenizer';

const N = 2000;
const examples = (task: TaskSource, n = N): Example[] => Array.from({ length: n }, (_, i) => task.example(i));
const words = (s: string) => s.split(/[^a-z0-9]+/).filter(Boolean);

describe('built-in tasks', () => {
  it('are deterministic from their seed, and the seed matters', () => {
    for (const make of Object.values(BUILTIN_TASKS)) {
      expect(examples(make({ seed: 4 }), 50)).toEqual(examples(make({ seed: 4 }), 50));
      expect(examples(make({ seed: 4 }), 50)).not.toEqual(examples(make({ seed: 5 }), 50));
    }
  });

  it('give well-formed, short examples in the default alphabet', () => {
    const alphabet = new Set(DEFAULT_ALPHABET);
    for (const [name, make] of Object.entries(BUILTIN_TASKS)) {
      const task = make({ seed: 1 });
      expect(task.name).toBe(name);
      const all = examples(task);
      expect(new Set(all.map((e) => e.id)).size).toBe(N);
      const problems: string[] = [];
      for (const e of all) {
        if (e.task !== name || e.family !== task.family) problems.push(`${e.id}: task or family`);
        if (e.answer.length === 0) problems.push(`${e.id}: empty answer`);
        if (e.input.length + e.answer.length > 90) problems.push(`${e.id}: too long`);
        if ([...(e.input + e.answer)].some((c) => !alphabet.has(c))) problems.push(`${e.id}: outside the alphabet`);
        if (e.choices && !e.choices.includes(e.answer)) problems.push(`${e.id}: answer not among the choices`);
      }
      expect(problems).toEqual([]);
      // Not a handful of repeated strings.
      expect(new Set(all.map((e) => e.input)).size).toBeGreaterThan(N / 4);
    }
    expect(new Set(Object.values(BUILTIN_TASKS).map((m) => m().family))).toEqual(
      new Set(['classification', 'summarization', 'qa', 'nli', 'math']),
    );
  });

  it('rejects example indices outside the pool', () => {
    const task = arithmeticTask({ size: 10 });
    expect(() => task.example(10)).toThrow(/no example 10/);
    expect(() => task.example(-1)).toThrow();
  });
});

describe('classification', () => {
  it('sentiment: each adjective has one polarity, which "not" flips', () => {
    const polarity = new Map<string, boolean>();
    for (const e of examples(sentimentTask())) {
      // "a [very] <adjective> <noun>", otherwise the adjective comes last.
      const ws = e.input.split(' ');
      const adjective = ws[0] === 'a' ? ws[ws.length - 2] : ws[ws.length - 1];
      const negated = e.input.includes(' not ');
      const positive = (e.answer === 'positive') !== negated;
      expect(['positive', 'negative']).toContain(e.answer);
      if (polarity.has(adjective)) expect(polarity.get(adjective)).toBe(positive);
      polarity.set(adjective, positive);
    }
    expect([...polarity.values()].filter(Boolean).length).toBeGreaterThan(5);
    expect([...polarity.values()].filter((p) => !p).length).toBeGreaterThan(5);
  });

  it('topic: every content word belongs to one topic', () => {
    const topicOf = new Map<string, string>();
    const common = new Set(['the', 'and', 'news', 'about', 'they', 'talked', 'a', 'note', 'on', 'was', 'new', 'late', 'big', 'odd', 'early', 'long']);
    const seen = new Set<string>();
    for (const e of examples(topicTask())) {
      seen.add(e.answer);
      for (const w of words(e.input).filter((w) => !common.has(w))) {
        if (topicOf.has(w)) expect(topicOf.get(w)).toBe(e.answer);
        topicOf.set(w, e.answer);
      }
    }
    expect(seen).toEqual(new Set(['sports', 'food', 'music', 'weather']));
  });

  it('label words never occur in the text of label tasks', () => {
    const labelWords = new Set(LABEL_WORDS);
    for (const task of [sentimentTask(), topicTask(), nliTask()]) {
      const clashes = examples(task).flatMap((e) => words(e.input).filter((w) => labelWords.has(w)));
      expect(clashes).toEqual([]);
      for (const label of task.labels!) expect(labelWords.has(label)).toBe(false);
    }
  });
});

describe('label maps', () => {
  it('rename labels injectively to words that are not labels, differently per draw', () => {
    const labels = ['positive', 'negative', 'blue'];
    const maps = Array.from({ length: 40 }, (_, i) => drawLabelMap(labels, new Rng(i)));
    for (const m of maps) {
      expect(Object.keys(m).sort()).toEqual([...labels].sort());
      const names = Object.values(m);
      expect(new Set(names).size).toBe(3);
      for (const n of names) {
        expect(LABEL_WORDS).toContain(n);
        expect(labels).not.toContain(n);
      }
    }
    expect(new Set(maps.map((m) => JSON.stringify(m))).size).toBeGreaterThan(35);
  });

  it('apply to the answer and the choices', () => {
    const e = sentimentTask().example(0);
    const mapped = applyLabelMap(e, { positive: 'owl', negative: 'tea' });
    expect(mapped.answer).toBe(e.answer === 'positive' ? 'owl' : 'tea');
    expect(mapped.choices).toEqual(['owl', 'tea']);
    expect(mapped.input).toBe(e.input);
    expect(() => applyLabelMap(e, { positive: 'owl' })).toThrow(/not one of the task's labels/);
  });

  it('are on by default for label tasks only, and can be turned off', () => {
    expect(sentimentTask().remapLabels).toBe(true);
    expect(nliTask().remapLabels).toBe(true);
    expect(sentimentTask({ remapLabels: false }).remapLabels).toBe(false);
    expect(arithmeticTask().remapLabels).toBe(false);
    expect(passageQaTask().remapLabels).toBe(false);
  });
});

describe('summarization', () => {
  it('key entity is the strictly most mentioned person', () => {
    for (const e of examples(keyEntityTask())) {
      const subjects = e.input.split('. ').map((clause) => clause.split(' ')[0]);
      const counts = new Map<string, number>();
      for (const s of subjects) counts.set(s, (counts.get(s) ?? 0) + 1);
      const top = counts.get(e.answer)!;
      expect(top).toBeGreaterThanOrEqual(2);
      for (const [name, c] of counts) if (name !== e.answer) expect(c).toBeLessThan(top);
      expect(new Set(e.choices)).toEqual(new Set(counts.keys()));
    }
  });
});

describe('qa', () => {
  it('answers are spans of the passage that answer the question', () => {
    for (const e of examples(passageQaTask())) {
      const [passage, question] = e.input.split(' q: ');
      expect(words(passage)).toContain(e.answer);
      const facts = passage.split('. ').map((f) => f.replace(/\.$/, ''));
      let m: RegExpMatchArray | null;
      let expected: string | undefined;
      if ((m = question.match(/^where does (\w+) live\?$/))) expected = facts.find((f) => f.startsWith(`${m![1]} lives in `))?.split(' ')[3];
      else if ((m = question.match(/^who lives in (\w+)\?$/))) expected = facts.find((f) => f.endsWith(`lives in ${m![1]}`))?.split(' ')[0];
      else if ((m = question.match(/^what does (\w+) like\?$/))) expected = facts.find((f) => f.startsWith(`${m![1]} likes `))?.split(' ')[2];
      else if ((m = question.match(/^who likes (\w+)\?$/))) expected = facts.find((f) => f.endsWith(`likes ${m![1]}`))?.split(' ')[0];
      else if ((m = question.match(/^what pet does (\w+) have\?$/))) expected = facts.find((f) => f.startsWith(`${m![1]} has a `))?.split(' ')[3];
      else if ((m = question.match(/^who has a (\w+)\?$/))) expected = facts.find((f) => f.endsWith(`has a ${m![1]}`))?.split(' ')[0];
      expect(expected, e.input).toBe(e.answer);
    }
  });
});

/** An independent reading of the NLI templates. */
function nliOracle(premise: string, hypothesis: string): string {
  let p = premise.match(/^(\w+) is in the (\w+) with a (\w+)\.$/);
  if (p) {
    const [, name, place, pet] = p;
    let h: RegExpMatchArray | null;
    if ((h = hypothesis.match(/^(\w+) is in the (\w+)\.$/))) return h[1] !== name ? 'neutral' : h[2] === place ? 'entailment' : 'contradiction';
    if ((h = hypothesis.match(/^(\w+) is not in the (\w+)\.$/))) return h[1] === name && h[2] === place ? 'contradiction' : 'neutral';
    if ((h = hypothesis.match(/^(\w+) has a (\w+)\.$/))) return h[1] === name && h[2] === pet ? 'entailment' : 'neutral';
    if ((h = hypothesis.match(/^(\w+) has no (\w+)\.$/))) return h[1] === name && h[2] === pet ? 'contradiction' : 'neutral';
    return 'neutral';
  }
  p = premise.match(/^(\w+) bought (\d+) (\w+)\.$/);
  if (!p) throw new Error(`unknown premise ${premise}`);
  const [, name, countText, fruit] = p;
  const count = Number(countText);
  let h: RegExpMatchArray | null;
  if ((h = hypothesis.match(/^(\w+) bought (some )?(\w+)\.$/))) return h[1] === name && h[3] === fruit ? 'entailment' : 'neutral';
  if ((h = hypothesis.match(/^(\w+) bought no (\w+)\.$/))) return h[1] === name ? 'contradiction' : 'neutral';
  if ((h = hypothesis.match(/^(\w+) bought more than (\d+) (\w+)\.$/))) return count > Number(h[2]) ? 'entailment' : 'contradiction';
  if ((h = hypothesis.match(/^(\w+) bought (\d+) (\w+)\.$/))) return Number(h[2]) === count ? 'entailment' : 'contradiction';
  return 'neutral';
}

describe('nli', () => {
  it('labels agree with an independent reading of premise and hypothesis', () => {
    const labels = new Set<string>();
    for (const e of examples(nliTask())) {
      const m = e.input.match(/^p: (.*)\nh: (.*)$/)!;
      expect(m).not.toBeNull();
      expect(e.answer, e.input).toBe(nliOracle(m[1], m[2]));
      labels.add(e.answer);
    }
    expect(labels).toEqual(new Set(['entailment', 'contradiction', 'neutral']));
  });
});

describe('math', () => {
  it('arithmetic answers are the value of the expression', () => {
    const forms = new Set<string>();
    for (const e of examples(arithmeticTask())) {
      expect(e.input).toMatch(/^\d+([+\-*]\d+)+$/);
      // Evaluate with precedence: products first, then sums left to right.
      const terms = e.input.match(/[+-]?[^+-]+/g)!;
      const value = terms.reduce((sum, term) => {
        const sign = term.startsWith('-') ? -1 : 1;
        const product = term.replace(/^[+-]/, '').split('*').reduce((p, f) => p * Number(f), 1);
        return sum + sign * product;
      }, 0);
      expect(e.answer, e.input).toBe(String(value));
      forms.add(e.input.replace(/\d+/g, 'n'));
    }
    expect(forms).toEqual(new Set(['n+n', 'n-n', 'n*n', 'n+n-n', 'n+n*n']));
  });

  it('word problem answers follow from the text', () => {
    for (const e of examples(wordProblemTask())) {
      let m: RegExpMatchArray | null;
      let value: number;
      if ((m = e.input.match(/^\w+ has (\d+) \w+ and gets (\d+) more\. how many now\?$/))) value = Number(m[1]) + Number(m[2]);
      else if ((m = e.input.match(/^\w+ has (\d+) \w+ and gives away (\d+)\. how many left\?$/))) value = Number(m[1]) - Number(m[2]);
      else if ((m = e.input.match(/^\w+ has (\d+) bags of (\d+) (\w+)\. how many (\w+)\?$/))) {
        expect(m[3]).toBe(m[4]);
        value = Number(m[1]) * Number(m[2]);
      } else if ((m = e.input.match(/^\w+ has (\d+) \w+ and \w+ has (\d+)\. how many in all\?$/))) value = Number(m[1]) + Number(m[2]);
      else throw new Error(`unknown problem: ${e.input}`);
      expect(e.answer, e.input).toBe(String(value));
      expect(value).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('listSource and splitSource', () => {
  it('splits by input text: disjoint, complete and near the asked fraction', () => {
    const task = arithmeticTask({ size: 3000 });
    const { train, test } = splitSource(task, { testFraction: 0.2, seed: 1 });
    expect(train.size + test.size).toBe(3000);
    expect(test.size / 3000).toBeGreaterThan(0.1);
    expect(test.size / 3000).toBeLessThan(0.3);
    const trainInputs = new Set(examples(train, train.size).map((e) => e.input));
    for (const e of examples(test, test.size)) expect(trainInputs.has(e.input)).toBe(false);
    const ids = new Set([...examples(train, train.size), ...examples(test, test.size)].map((e) => e.id));
    expect(ids.size).toBe(3000);
  });

  const rows: Example[] = ['a', 'b', 'a', 'c'].map((answer, i) => ({ id: `u-${i}`, task: 'u', family: 'classification', input: `text ${i}`, answer }));

  it('serves given examples, with the distinct answers as labels when remapping', () => {
    const s = listSource(rows, { name: 'u', family: 'classification', remapLabels: true });
    expect(s.size).toBe(4);
    expect(s.example(2)).toBe(rows[2]);
    expect(s.labels).toEqual(['a', 'b', 'c']);
    expect(listSource(rows, { name: 'u', family: 'classification' }).remapLabels).toBe(false);
    expect(() => s.example(4)).toThrow();
    expect(() => listSource([], { name: 'u', family: 'qa' })).toThrow(/no examples/);
  });
});
