// Task sources: finite, indexable pools of examples. The built-in ones are seeded offline generators with
// answers that can be checked; imported data becomes a source through `listSource`.
import { Rng, hashSeed } from './seeds';
import { FAMILY_TEMPLATES, type PromptTemplate, checkTemplate } from './templates';

export type TaskFamily = 'classification' | 'summarization' | 'qa' | 'nli' | 'math';
export const TASK_FAMILIES: readonly TaskFamily[] = ['classification', 'summarization', 'qa', 'nli', 'math'];

export interface Example {
  id: string;
  task: string;
  family: TaskFamily;
  input: string;
  answer: string;
  choices?: string[];
}

/** Canonical label -> the name it goes by in one context. */
export type LabelMap = Record<string, string>;

export interface TaskSource {
  name: string;
  family: TaskFamily;
  template: PromptTemplate;
  /** example(i) is defined, and deterministic, for every i in [0, size). */
  size: number;
  example(index: number): Example;
  /** The canonical label set, when answers are labels. */
  labels?: string[];
  /** Give the labels new, arbitrary names in every context, so only the shots say what they mean. */
  remapLabels: boolean;
}

export interface TaskOptions {
  /** Generator seed: the same seed gives the same examples. Default 0. */
  seed?: number;
  /** Pool size. Default 10000. */
  size?: number;
  /** Source name (the `task` of its examples). Defaults to the generator's name. */
  name?: string;
  /** Label tasks only; default true. */
  remapLabels?: boolean;
  template?: PromptTemplate;
}

/** Arbitrary label names drawn per context; none of them occurs in a built-in generator's text. */
export const LABEL_WORDS: readonly string[] = [
  'blue', 'seven', 'moon', 'salt', 'red', 'nine', 'cup', 'kite', 'zero', 'leaf', 'owl', 'gold', 'pine', 'ice',
  'jam', 'wolf', 'star', 'rock', 'milk', 'bell', 'corn', 'lamp', 'rose', 'ring', 'sand', 'silk', 'tea', 'wax',
  'yak', 'zinc', 'oak', 'bee', 'dot', 'elk', 'gem', 'hat', 'ink', 'jar', 'yam', 'lid', 'map', 'nut', 'orb', 'vase',
];

/** A label map for one context: each canonical label gets a distinct word from `pool` (never a canonical label). */
export function drawLabelMap(labels: readonly string[], rng: Rng, pool: readonly string[] = LABEL_WORDS): LabelMap {
  const canonical = new Set(labels);
  const candidates = pool.filter((w) => !canonical.has(w));
  if (candidates.length < labels.length) {
    throw new Error(`cannot rename ${labels.length} labels with ${candidates.length} label words`);
  }
  const names = rng.sample(candidates, labels.length);
  return Object.fromEntries(labels.map((label, i) => [label, names[i]]));
}

export function applyLabelMap(example: Example, map: LabelMap): Example {
  const rename = (label: string): string => {
    const name = map[label];
    if (name === undefined) throw new Error(`example ${example.id}: answer '${label}' is not one of the task's labels`);
    return name;
  };
  return { ...example, answer: rename(example.answer), choices: example.choices?.map(rename) };
}

/** The label map a source uses in one context, or null when it keeps its labels. */
export function contextLabelMap(source: TaskSource, rng: Rng): LabelMap | null {
  if (!source.remapLabels) return null;
  if (!source.labels || source.labels.length === 0) throw new Error(`task ${source.name} remaps labels but has none`);
  return drawLabelMap(source.labels, rng);
}

type Generated = { input: string; answer: string; choices?: string[] };

function syntheticSource(
  defaultName: string,
  family: TaskFamily,
  opts: TaskOptions,
  generate: (rng: Rng) => Generated,
  labels?: string[],
): TaskSource {
  const name = opts.name ?? defaultName;
  const seed = opts.seed ?? 0;
  const size = opts.size ?? 10000;
  const template = opts.template ?? FAMILY_TEMPLATES[family];
  checkTemplate(template);
  if (!Number.isInteger(size) || size <= 0) throw new Error(`task ${name}: size must be a positive integer`);
  return {
    name, family, template, size, labels,
    remapLabels: labels !== undefined && (opts.remapLabels ?? true),
    example(index) {
      if (!Number.isInteger(index) || index < 0 || index >= size) throw new Error(`task ${name}: no example ${index} (size ${size})`);
      const g = generate(new Rng(hashSeed(defaultName, seed, index)));
      return { id: `${name}-${index}`, task: name, family, ...g };
    },
  };
}

/** A source over given examples (e.g. an upload). With remapLabels, `labels` defaults to the distinct answers. */
export function listSource(
  examples: readonly Example[],
  opts: { name: string; family: TaskFamily; template?: PromptTemplate; remapLabels?: boolean; labels?: string[] },
): TaskSource {
  if (examples.length === 0) throw new Error(`task ${opts.name}: no examples`);
  const template = opts.template ?? FAMILY_TEMPLATES[opts.family];
  checkTemplate(template);
  const remapLabels = opts.remapLabels ?? false;
  const labels = opts.labels ?? (remapLabels ? [...new Set(examples.map((e) => e.answer))].sort() : undefined);
  return {
    name: opts.name, family: opts.family, template, size: examples.length, labels, remapLabels,
    example(index) {
      const e = examples[index];
      if (e === undefined) throw new Error(`task ${opts.name}: no example ${index} (size ${examples.length})`);
      return e;
    },
  };
}

/** The share of a task's examples held out for evaluation (by input text) when a run asks for a test split. */
export const TEST_FRACTION = 0.1;

/** A task's training and held-out test halves, as the runs and the evaluation protocol split it. */
export function heldOutSplit(source: TaskSource, testFraction = TEST_FRACTION): { train: TaskSource; test: TaskSource } {
  return splitSource(source, { testFraction, seed: 0 });
}

/**
 * Train/test halves of a source. An example goes by a hash of its input text, so equal inputs always land in
 * the same half and no test input is ever seen in training.
 */
export function splitSource(source: TaskSource, opts: { testFraction: number; seed?: number }): { train: TaskSource; test: TaskSource } {
  if (!(opts.testFraction > 0 && opts.testFraction < 1)) throw new Error('testFraction must be in (0, 1)');
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < source.size; i++) {
    const h = hashSeed('split', opts.seed ?? 0, source.example(i).input) / 2 ** 32;
    (h < opts.testFraction ? test : train).push(i);
  }
  if (train.length === 0 || test.length === 0) throw new Error(`task ${source.name}: the split left one half empty`);
  const subset = (indices: number[]): TaskSource => ({
    ...source,
    size: indices.length,
    example: (i) => {
      if (indices[i] === undefined) throw new Error(`task ${source.name}: no example ${i} (size ${indices.length})`);
      return source.example(indices[i]);
    },
  });
  return { train: subset(train), test: subset(test) };
}

// ---- word lists -------------------------------------------------------------------------------------------

const NAMES = ['ann', 'bob', 'tom', 'eve', 'max', 'kim', 'joe', 'sam', 'liz', 'ben', 'amy', 'dan', 'ivy', 'ray', 'zoe', 'leo'];

// ---- classification ---------------------------------------------------------------------------------------

const REVIEW_NOUNS = ['film', 'soup', 'hotel', 'game', 'book', 'song', 'trip', 'meal', 'show', 'room', 'cafe', 'phone', 'chair', 'class', 'park'];
const POSITIVE = ['great', 'lovely', 'fun', 'superb', 'nice', 'good', 'warm', 'bright', 'fresh', 'calm'];
const NEGATIVE = ['awful', 'dull', 'bad', 'cold', 'boring', 'poor', 'rude', 'noisy', 'stale', 'bland'];
const INTENSIFIERS = ['', '', 'very ', 'really ', 'so ', 'quite '];

/** Sentiment of a short review: positive / negative ("not" flips it). */
export function sentimentTask(opts: TaskOptions = {}): TaskSource {
  const labels = ['positive', 'negative'];
  return syntheticSource('sentiment', 'classification', opts, (rng) => {
    let positive = rng.chance(0.5);
    const adjective = rng.pick(positive ? POSITIVE : NEGATIVE);
    const noun = rng.pick(REVIEW_NOUNS);
    let input: string;
    const form = rng.int(4);
    if (form === 0) {
      // Negated: "the soup was not good" is negative.
      input = `the ${noun} ${rng.pick(['was', 'is'])} not ${adjective}`;
      positive = !positive;
    } else if (form === 1) {
      input = `a ${rng.pick(['', 'very ', 'really ', 'quite '])}${adjective} ${noun}`;
    } else if (form === 2) {
      input = `i found the ${noun} ${rng.pick(INTENSIFIERS)}${adjective}`;
    } else {
      input = `the ${noun} ${rng.pick(['was', 'felt', 'seemed', 'is', 'looked'])} ${rng.pick(INTENSIFIERS)}${adjective}`;
    }
    return { input, answer: positive ? 'positive' : 'negative', choices: labels.slice() };
  }, labels);
}

const TOPIC_WORDS: Record<string, string[]> = {
  sports: ['team', 'match', 'goal', 'coach', 'race', 'ball', 'score', 'player'],
  food: ['soup', 'bread', 'cake', 'rice', 'salad', 'pie', 'cheese', 'pasta'],
  music: ['song', 'band', 'drum', 'tune', 'album', 'choir', 'piano', 'guitar'],
  weather: ['rain', 'snow', 'wind', 'storm', 'cloud', 'frost', 'fog', 'heat'],
};
const TOPIC_PATTERNS = ['the {a} and the {b}', 'news about the {a}', 'they talked about the {a}', 'a note on the {a} and the {b}', 'the {a} was {adj}'];
const PLAIN_ADJECTIVES = ['new', 'late', 'big', 'odd', 'early', 'long'];

/** Topic of a short phrase: sports / food / music / weather. */
export function topicTask(opts: TaskOptions = {}): TaskSource {
  const labels = Object.keys(TOPIC_WORDS);
  return syntheticSource('topic', 'classification', opts, (rng) => {
    const topic = rng.pick(labels);
    const [a, b] = rng.sample(TOPIC_WORDS[topic], 2);
    const input = rng.pick(TOPIC_PATTERNS).replace('{a}', a).replace('{b}', b).replace('{adj}', rng.pick(PLAIN_ADJECTIVES));
    return { input, answer: topic, choices: labels.slice() };
  }, labels);
}

// ---- summarization ----------------------------------------------------------------------------------------

const ACTIONS = ['ran', 'sat', 'ate', 'hid', 'won', 'sang', 'slept', 'left', 'came', 'read', 'swam', 'smiled', 'jumped', 'cried'];

/** "Summarise" a short log of events into its key person: the one named most often (a strict majority of mentions over any other). */
export function keyEntityTask(opts: TaskOptions = {}): TaskSource {
  return syntheticSource('key-entity', 'summarization', opts, (rng) => {
    const people = rng.sample(NAMES, rng.range(2, 3));
    const [main, ...others] = people;
    const mainCount = rng.range(2, 3);
    const subjects = Array<string>(mainCount).fill(main);
    const otherTotal = rng.range(others.length, Math.min(3, others.length * (mainCount - 1)));
    // Each other person appears at least once and fewer times than the main one.
    const counts = others.map(() => 1);
    for (let extra = otherTotal - others.length; extra > 0; extra--) {
      const open = counts.map((c, i) => (c < mainCount - 1 ? i : -1)).filter((i) => i >= 0);
      counts[rng.pick(open)] += 1;
    }
    others.forEach((name, i) => subjects.push(...Array<string>(counts[i]).fill(name)));
    const order = rng.sample(subjects, subjects.length);
    const input = order.map((name) => `${name} ${rng.pick(ACTIONS)}.`).join(' ');
    return { input, answer: main, choices: [...new Set(order)] };
  });
}

// ---- question answering -----------------------------------------------------------------------------------

const CITIES = ['rome', 'paris', 'oslo', 'cairo', 'lima', 'delhi', 'tokyo', 'kyiv', 'bern', 'quito'];
const FOODS = ['figs', 'rice', 'soup', 'plums', 'nuts', 'pears', 'eggs', 'cake'];
const PETS = ['cat', 'dog', 'hen', 'pig', 'goat', 'duck', 'frog', 'crab'];

interface FactKind {
  values: string[];
  fact: (name: string, value: string) => string;
  askValue: (name: string) => string;
  askName: (value: string) => string;
}
const FACT_KINDS: FactKind[] = [
  { values: CITIES, fact: (n, v) => `${n} lives in ${v}.`, askValue: (n) => `where does ${n} live?`, askName: (v) => `who lives in ${v}?` },
  { values: FOODS, fact: (n, v) => `${n} likes ${v}.`, askValue: (n) => `what does ${n} like?`, askName: (v) => `who likes ${v}?` },
  { values: PETS, fact: (n, v) => `${n} has a ${v}.`, askValue: (n) => `what pet does ${n} have?`, askName: (v) => `who has a ${v}?` },
];

/** Extractive QA over a two-fact passage: the answer is a word of the passage. */
export function passageQaTask(opts: TaskOptions & { facts?: number } = {}): TaskSource {
  const factCount = opts.facts ?? 2;
  return syntheticSource('passage-qa', 'qa', opts, (rng) => {
    const names = rng.sample(NAMES, factCount);
    const usedValues = new Set<string>();
    const facts = names.map((name) => {
      const kind = rng.pick(FACT_KINDS);
      const value = rng.pick(kind.values.filter((v) => !usedValues.has(v)));
      usedValues.add(value);
      return { name, kind, value };
    });
    const asked = rng.pick(facts);
    const askForName = rng.chance(0.5);
    const question = askForName ? asked.kind.askName(asked.value) : asked.kind.askValue(asked.name);
    const passage = facts.map((f) => f.kind.fact(f.name, f.value)).join(' ');
    return { input: `${passage} q: ${question}`, answer: askForName ? asked.name : asked.value };
  });
}

// ---- natural language inference ---------------------------------------------------------------------------

const PLACES = ['park', 'shop', 'school', 'bank', 'zoo', 'gym', 'library', 'market'];
const MOODS = ['happy', 'tired', 'sad', 'busy', 'hungry'];
const FRUITS = ['apples', 'pears', 'plums', 'figs', 'limes', 'lemons'];
const NLI_LABELS = ['entailment', 'contradiction', 'neutral'];

/** Premise/hypothesis pairs from templates: entailment / contradiction / neutral. */
export function nliTask(opts: TaskOptions = {}): TaskSource {
  return syntheticSource('nli', 'nli', opts, (rng) => {
    const label = rng.pick(NLI_LABELS);
    const [name, other] = rng.sample(NAMES, 2);
    let premise: string;
    let hypotheses: Record<string, string[]>;
    if (rng.chance(0.5)) {
      const [place, otherPlace] = rng.sample(PLACES, 2);
      const pet = rng.pick(PETS);
      premise = `${name} is in the ${place} with a ${pet}.`;
      hypotheses = {
        entailment: [`${name} is in the ${place}.`, `${name} has a ${pet}.`],
        contradiction: [`${name} is in the ${otherPlace}.`, `${name} is not in the ${place}.`, `${name} has no ${pet}.`],
        neutral: [`${name} is ${rng.pick(MOODS)}.`, `${name} likes ${rng.pick(FOODS)}.`, `${other} is in the ${place}.`],
      };
    } else {
      const fruit = rng.pick(FRUITS);
      const count = rng.range(2, 9);
      const otherCount = rng.pick([2, 3, 4, 5, 6, 7, 8, 9].filter((k) => k !== count));
      premise = `${name} bought ${count} ${fruit}.`;
      hypotheses = {
        entailment: [`${name} bought some ${fruit}.`, `${name} bought ${fruit}.`, `${name} bought more than ${count - 1} ${fruit}.`],
        contradiction: [`${name} bought no ${fruit}.`, `${name} bought ${otherCount} ${fruit}.`],
        neutral: [`${name} likes ${fruit}.`, `${name} is ${rng.pick(MOODS)}.`, `${other} bought ${fruit}.`],
      };
    }
    return { input: `p: ${premise}\nh: ${rng.pick(hypotheses[label])}`, answer: label, choices: NLI_LABELS.slice() };
  }, NLI_LABELS.slice());
}

// ---- math -------------------------------------------------------------------------------------------------

/** Integer expressions with +, - and * (usual precedence): "7+3*4" -> "19". */
export function arithmeticTask(opts: TaskOptions = {}): TaskSource {
  return syntheticSource('arithmetic', 'math', opts, (rng) => {
    const form = rng.int(5);
    let input: string;
    let value: number;
    if (form === 0) {
      const [a, b] = [rng.range(0, 20), rng.range(0, 20)];
      [input, value] = [`${a}+${b}`, a + b];
    } else if (form === 1) {
      const [a, b] = [rng.range(0, 20), rng.range(0, 20)];
      [input, value] = [`${a}-${b}`, a - b];
    } else if (form === 2) {
      const [a, b] = [rng.range(2, 9), rng.range(2, 9)];
      [input, value] = [`${a}*${b}`, a * b];
    } else if (form === 3) {
      const [a, b, c] = [rng.range(0, 15), rng.range(0, 15), rng.range(0, 15)];
      [input, value] = [`${a}+${b}-${c}`, a + b - c];
    } else {
      const [a, b, c] = [rng.range(2, 9), rng.range(2, 9), rng.range(0, 15)];
      [input, value] = [`${c}+${a}*${b}`, c + a * b];
    }
    return { input, answer: String(value) };
  });
}

const THINGS = ['pens', 'figs', 'cards', 'coins', 'eggs', 'books', 'shells', 'stamps'];

/** One-step word problems: "ann has 5 pens and gets 3 more. how many now?" -> "8". */
export function wordProblemTask(opts: TaskOptions = {}): TaskSource {
  return syntheticSource('word-problems', 'math', opts, (rng) => {
    const [name, other] = rng.sample(NAMES, 2);
    const thing = rng.pick(THINGS);
    const form = rng.int(4);
    if (form === 0) {
      const [a, b] = [rng.range(2, 15), rng.range(1, 9)];
      return { input: `${name} has ${a} ${thing} and gets ${b} more. how many now?`, answer: String(a + b) };
    }
    if (form === 1) {
      const a = rng.range(2, 20);
      const b = rng.range(1, a);
      return { input: `${name} has ${a} ${thing} and gives away ${b}. how many left?`, answer: String(a - b) };
    }
    if (form === 2) {
      const [a, b] = [rng.range(2, 9), rng.range(2, 9)];
      return { input: `${name} has ${a} bags of ${b} ${thing}. how many ${thing}?`, answer: String(a * b) };
    }
    const [a, b] = [rng.range(2, 15), rng.range(1, 15)];
    return { input: `${name} has ${a} ${thing} and ${other} has ${b}. how many in all?`, answer: String(a + b) };
  });
}

/** The built-in generators by name, e.g. for a task picker. */
export const BUILTIN_TASKS: Record<string, (opts?: TaskOptions) => TaskSource> = {
  sentiment: sentimentTask,
  topic: topicTask,
  'key-entity': keyEntityTask,
  'passage-qa': passageQaTask,
  nli: nliTask,
  arithmetic: arithmeticTask,
  'word-problems': wordProblemTask,
};
