// Packs examples into fixed-length training contexts  [BOS] x1 y1 x2 y2 ... xK yK [padding]  (see templates.ts
// for the exact text of a shot) and serves them as a resumable stream.
//
// Objectives:
//   manyicl      as many shots as fit; every answer is labelled.
//   last-answer  packed the same way and labelled the same way: every answer stays in `labels` and `answers`,
//                so the losses of all shots can be watched. The engine's 'last-answer' objective (trainer.ts)
//                restricts the loss to the final answer span (train/objectives.ts maps run objectives to both).
//   zero-shot    exactly one example per context.
// Dedicated adapters (one per task) are a set of runs, not a packing mode: see train/run-config.ts `plannedRuns`.
//
// Context i of a stream is a pure function of (options, seed, i): shots are drawn without replacement inside a
// context (never the same example, nor the same input text of a task, twice), independently between contexts.
import type { SequenceBatch } from '../engine/trainer';
import { DrawWithoutReplacement, Rng, hashSeed } from './seeds';
import { type LabelMap, type TaskSource, applyLabelMap, contextLabelMap } from './tasks';
import { type PromptTemplate, renderShot } from './templates';
import type { Tokenizer } from './tokenizer';

export type PackObjective = 'manyicl' | 'last-answer' | 'zero-shot';

export interface WeightedSource {
  task: TaskSource;
  weight: number;
}

export interface StreamOptions {
  tokenizer: Tokenizer;
  /** A mixture: sources are drawn in proportion to their weights. */
  sources: WeightedSource[];
  contextLength: number;
  objective: PackObjective;
  /** At most this many shots per context (zero-shot always has one). */
  maxShots?: number;
  seed: number;
  /** 'context' (default): each context is drawn from one source; 'shot': each shot draws its own source. */
  mixing?: 'context' | 'shot';
}

export interface PackOptions extends StreamOptions {
  count: number;
}

export interface PackedAnswer {
  task: string;
  /** 0-based index of the shot within the context. */
  shot: number;
  exampleId: string;
  /** Label positions [start, end) of the target tokens (the answer and its template end marker). */
  span: [number, number];
  /** Position of the shot's first prompt token. */
  start: number;
  /** The answer text, after label renaming. */
  answer: string;
}

export interface PackedContext {
  /** Position of this context in its stream. */
  index: number;
  inputIds: number[];
  /** -100 except on target tokens, where labels[t] === inputIds[t]. */
  labels: number[];
  attentionMask: number[];
  answers: PackedAnswer[];
  /** Label renaming used in this context, by task name (tasks that keep their labels are absent). */
  labelMaps: Record<string, LabelMap>;
}

/** Serialisable position of a stream; resume with `ContextStream.resume(options, cursor)`. */
export interface StreamCursor {
  version: 1;
  seed: number;
  /** Index of the next context the stream will produce. */
  position: number;
  /** Hash of the options that shape the stream; resuming with other options is refused. */
  fingerprint: string;
}

/** Rows of a micro-batch for Trainer.step; all contexts must share one length. */
export function toSequenceBatch(contexts: PackedContext[]): SequenceBatch {
  if (contexts.length === 0) throw new Error('toSequenceBatch: no contexts');
  const T = contexts[0].inputIds.length;
  for (const c of contexts) {
    if (c.inputIds.length !== T || c.labels.length !== T || c.attentionMask.length !== T) {
      throw new Error(`toSequenceBatch: context ${c.index} is not ${T} tokens long`);
    }
  }
  return {
    inputIds: contexts.map((c) => c.inputIds.slice()),
    attentionMask: contexts.map((c) => c.attentionMask.slice()),
    labels: contexts.map((c) => c.labels.slice()),
    answerSpans: contexts.map((c) => c.answers.map((a) => [a.span[0], a.span[1]] as [number, number])),
  };
}

/** `count` contexts from the start of the stream the options describe. */
export function packContexts(opts: PackOptions): PackedContext[] {
  return new ContextStream(opts).next(opts.count);
}

/** A first shot that does not fit is skipped; this many in a row means the examples are too long. */
const MAX_FIRST_SHOT_MISSES = 64;
const ENCODE_CACHE_LIMIT = 50_000;

export class ContextStream {
  private readonly opts: StreamOptions;
  private readonly fingerprint: string;
  private readonly encoded = new Map<string, number[]>();
  private position: number;

  constructor(opts: StreamOptions, position = 0) {
    checkOptions(opts);
    this.opts = opts;
    this.fingerprint = fingerprintOf(opts);
    this.position = position;
  }

  static resume(opts: StreamOptions, cursor: StreamCursor): ContextStream {
    if (cursor.version !== 1) throw new Error(`unknown stream cursor version ${cursor.version}`);
    if (cursor.seed !== opts.seed) throw new Error(`the cursor is for seed ${cursor.seed}, not ${opts.seed}`);
    if (cursor.fingerprint !== fingerprintOf(opts)) {
      throw new Error('the cursor was made for a stream with other options (sources, weights, context length, objective or tokenizer)');
    }
    if (!Number.isInteger(cursor.position) || cursor.position < 0) throw new Error(`bad cursor position ${cursor.position}`);
    return new ContextStream(opts, cursor.position);
  }

  get cursor(): StreamCursor {
    return { version: 1, seed: this.opts.seed, position: this.position, fingerprint: this.fingerprint };
  }

  next(batchSize: number): PackedContext[] {
    if (!Number.isInteger(batchSize) || batchSize < 0) throw new Error(`bad batch size ${batchSize}`);
    const out: PackedContext[] = [];
    for (let i = 0; i < batchSize; i++) out.push(this.contextAt(this.position + i));
    this.position += batchSize;
    return out;
  }

  /** Context `index` of the stream, without moving the cursor. */
  contextAt(index: number): PackedContext {
    if (!Number.isInteger(index) || index < 0) throw new Error(`bad context index ${index}`);
    const { tokenizer, contextLength, objective, seed } = this.opts;
    const sources = this.opts.sources.filter((s) => s.weight > 0);
    const weights = sources.map((s) => s.weight);
    const rng = new Rng(hashSeed('context', seed, index));
    const perShot = this.opts.mixing === 'shot';
    const contextSource = perShot ? -1 : rng.weighted(weights);
    const maxShots = objective === 'zero-shot' ? 1 : (this.opts.maxShots ?? Infinity);

    const drawers = new Map<number, DrawWithoutReplacement>();
    const labelMaps = new Map<number, LabelMap | null>();
    const drawerOf = (s: number) => {
      let d = drawers.get(s);
      if (!d) drawers.set(s, (d = new DrawWithoutReplacement(sources[s].task.size, new Rng(hashSeed('draw', seed, index, s)))));
      return d;
    };
    const labelMapOf = (s: number) => {
      if (!labelMaps.has(s)) labelMaps.set(s, contextLabelMap(sources[s].task, new Rng(hashSeed('labels', seed, index, sources[s].task.name))));
      return labelMaps.get(s)!;
    };

    const inputIds: number[] = [];
    const labels: number[] = [];
    const answers: PackedAnswer[] = [];
    if (tokenizer.bosId !== null) {
      inputIds.push(tokenizer.bosId);
      labels.push(-100);
    }
    const seenIds = new Set<string>();
    const seenInputs = new Set<string>();
    let previousTemplate: PromptTemplate | null = null;
    let misses = 0;

    while (answers.length < maxShots) {
      const s = perShot ? rng.weighted(weights) : contextSource;
      const task = sources[s].task;
      const exampleIndex = drawerOf(s).next();
      if (exampleIndex === null) break; // the pool is used up
      const original = task.example(exampleIndex);
      const inputKey = `${task.name}\u0000${original.input}`;
      if (seenIds.has(original.id) || seenInputs.has(inputKey)) continue;
      const map = labelMapOf(s);
      const example = map ? applyLabelMap(original, map) : original;
      const shot = renderShot(task.template, example);
      const separatorIds = previousTemplate ? this.encode(previousTemplate.separator) : [];
      const promptIds = this.encode(shot.prompt);
      const targetIds = this.encode(shot.target);
      if (targetIds.length === 0) throw new Error(`task ${task.name}: example ${example.id} has a target of no tokens`);
      const targetStart = inputIds.length + separatorIds.length + promptIds.length;
      if (targetStart === 0) throw new Error(`task ${task.name}: a target at position 0 cannot be labelled (empty prompt and no BOS)`);
      if (targetStart + targetIds.length > contextLength) {
        if (answers.length > 0) break; // never cut an answer: the context ends here
        if (++misses > MAX_FIRST_SHOT_MISSES) {
          throw new Error(`no example fits a context of ${contextLength} tokens (task ${task.name}, e.g. ${example.id} needs ${targetStart + targetIds.length})`);
        }
        continue;
      }
      seenIds.add(original.id);
      seenInputs.add(inputKey);
      for (const id of [...separatorIds, ...promptIds]) {
        inputIds.push(id);
        labels.push(-100);
      }
      for (const id of targetIds) {
        inputIds.push(id);
        labels.push(id);
      }
      answers.push({
        task: task.name, shot: answers.length, exampleId: example.id, answer: example.answer,
        span: [targetStart, targetStart + targetIds.length], start: targetStart - promptIds.length,
      });
      previousTemplate = task.template;
    }
    if (answers.length === 0) throw new Error(`context ${index}: no example could be drawn`);

    const attentionMask = inputIds.map(() => 1);
    while (inputIds.length < contextLength) {
      inputIds.push(tokenizer.padId);
      labels.push(-100);
      attentionMask.push(0);
    }
    const usedMaps: Record<string, LabelMap> = {};
    for (const [s, map] of labelMaps) if (map) usedMaps[sources[s].task.name] = map;
    return { index, inputIds, labels, attentionMask, answers, labelMaps: usedMaps };
  }

  private encode(text: string): number[] {
    if (text === '') return [];
    let ids = this.encoded.get(text);
    if (!ids) {
      ids = this.opts.tokenizer.encode(text);
      if (this.encoded.size >= ENCODE_CACHE_LIMIT) this.encoded.clear();
      this.encoded.set(text, ids);
    }
    return ids;
  }
}

function checkOptions(opts: StreamOptions): void {
  if (!Number.isInteger(opts.contextLength) || opts.contextLength < 2) throw new Error(`bad context length ${opts.contextLength}`);
  if (!Number.isInteger(opts.seed)) throw new Error(`the seed must be an integer, got ${opts.seed}`);
  if (opts.maxShots !== undefined && !(Number.isInteger(opts.maxShots) && opts.maxShots >= 1)) throw new Error(`bad maxShots ${opts.maxShots}`);
  if (opts.sources.length === 0) throw new Error('no task sources');
  const names = new Set<string>();
  for (const s of opts.sources) {
    if (!(Number.isFinite(s.weight) && s.weight >= 0)) throw new Error(`task ${s.task.name}: bad weight ${s.weight}`);
    if (names.has(s.task.name)) throw new Error(`task ${s.task.name} appears twice in the mixture`);
    names.add(s.task.name);
  }
  if (!opts.sources.some((s) => s.weight > 0)) throw new Error('every source has weight 0');
}

function fingerprintOf(opts: StreamOptions): string {
  const t = opts.tokenizer;
  const shape = JSON.stringify({
    contextLength: opts.contextLength, objective: opts.objective, maxShots: opts.maxShots ?? null, mixing: opts.mixing ?? 'context',
    tokenizer: [t.vocabSize, t.bosId, t.eosId, t.padId],
    sources: opts.sources.map((s) => [s.task.name, s.task.size, s.weight, s.task.remapLabels, s.task.template]),
  });
  return hashSeed(shape).toString(16).padStart(8, '0');
}

export interface PreviewToken {
  text: string;
  isTarget: boolean;
  /** The shot the token belongs to (prompt or target); null for BOS and separators. */
  shot: number | null;
}

/** The real (unpadded) tokens of a context, for a view that highlights targets. */
export function previewTokens(ctx: PackedContext, tokenizer: Tokenizer): PreviewToken[] {
  const length = ctx.attentionMask.lastIndexOf(1) + 1;
  // Segment key of each position: 'p<shot>' prompt, 't<shot>' target, '' otherwise.
  const segment = Array<string>(length).fill('');
  for (const a of ctx.answers) {
    for (let t = a.start; t < a.span[0]; t++) segment[t] = `p${a.shot}`;
    for (let t = a.span[0]; t < a.span[1]; t++) segment[t] = `t${a.shot}`;
  }
  const out: PreviewToken[] = [];
  let runStart = 0;
  let emitted = ''; // text of the run given out so far
  for (let t = 0; t < length; t++) {
    if (t > 0 && segment[t] !== segment[t - 1]) {
      runStart = t;
      emitted = '';
    }
    const runEnds = t + 1 === length || segment[t + 1] !== segment[t];
    // Decode the run up to t and give out the new suffix, so characters split over tokens stay whole.
    const upTo = tokenizer.decode(ctx.inputIds.slice(runStart, t + 1));
    let text: string;
    if (upTo.endsWith('\ufffd') && !runEnds) {
      text = ''; // an unfinished character: it appears with the token that completes it
    } else {
      text = upTo.startsWith(emitted) ? upTo.slice(emitted.length) : tokenizer.decode([ctx.inputIds[t]]);
      emitted = upTo;
    }
    const shot = segment[t] === '' ? null : Number(segment[t].slice(1));
    out.push({ text, isTarget: ctx.labels[t] !== -100, shot });
  }
  return out;
}
