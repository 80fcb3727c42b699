import { describe, expect, it } from 'vitest';
import {
  ContextStream, type PackedContext, type StreamOptions, packContexts, previewTokens, toSequenceBatch,
} from './packer';
import { type Example, type TaskSource, arithmeticTask, keyEntityTask, listSource, nliTask, passageQaTask, sentimentTask, topicTask, wordProblemTask } from './tasks';
import { type Tokenizer, charTokenizer } from './tokenizer';

const tok = charTokenizer();
const allTasks = (): TaskSource[] => [sentimentTask(), topicTask(), keyEntityTask(), passageQaTask(), nliTask(), arithmeticTask(), wordProblemTask()];

/** Examples whose shots all have one length: "in: iii\nout: a\n" plus the separator. */
function fixedLengthTask(name: string, count: number, inputLength = 6): TaskSource {
  const examples: Example[] = Array.from({ length: count }, (_, i) => ({
    id: `${name}-${i}`, task: name, family: 'classification', input: String(i).padStart(inputLength, '0'), answer: 'ab',
  }));
  return listSource(examples, { name, family: 'classification' });
}

/** Every structural promise of a packed context; returns what broke. */
function contextProblems(ctx: PackedContext, contextLength: number, tokenizer: Tokenizer): string[] {
  const p: string[] = [];
  const T = contextLength;
  if (ctx.inputIds.length !== T || ctx.labels.length !== T || ctx.attentionMask.length !== T) p.push('length');
  const real = ctx.attentionMask.indexOf(0) === -1 ? T : ctx.attentionMask.indexOf(0);
  for (let t = 0; t < T; t++) {
    if (t < real && ctx.attentionMask[t] !== 1) p.push(`mask hole at ${t}`);
    if (t >= real && (ctx.attentionMask[t] !== 0 || ctx.inputIds[t] !== tokenizer.padId || ctx.labels[t] !== -100)) p.push(`padding at ${t}`);
  }
  if (tokenizer.bosId !== null && ctx.inputIds[0] !== tokenizer.bosId) p.push('no BOS');
  const inSpan = new Array<boolean>(T).fill(false);
  let previousEnd = 0;
  ctx.answers.forEach((a, k) => {
    if (a.shot !== k) p.push(`shot index ${a.shot} at ${k}`);
    const [start, end] = a.span;
    if (!(start >= 1 && start < end && end <= real && a.start < start && a.start >= previousEnd)) p.push(`span ${start}..${end} (shot starts ${a.start})`);
    previousEnd = end;
    for (let t = start; t < end; t++) {
      inSpan[t] = true;
      if (ctx.labels[t] !== ctx.inputIds[t]) p.push(`label at ${t}`);
    }
    // The whole target is there: never a cut answer.
    if (tokenizer.decode(ctx.inputIds.slice(start, end)) !== ` ${a.answer}\n`) p.push(`target of shot ${k} is '${tokenizer.decode(ctx.inputIds.slice(start, end))}'`);
  });
  for (let t = 0; t < T; t++) if (!inSpan[t] && ctx.labels[t] !== -100) p.push(`label outside spans at ${t}`);
  if (new Set(ctx.answers.map((a) => a.exampleId)).size !== ctx.answers.length) p.push('duplicate example');
  if (ctx.answers.length === 0) p.push('no answers');
  // Real tokens end with the last target: nothing trails it but padding.
  else if (ctx.answers.at(-1)!.span[1] !== real) p.push(`real tokens end at ${real}, the last target at ${ctx.answers.at(-1)!.span[1]}`);
  return p;
}

const mixture = (tasks: TaskSource[]) => tasks.map((task) => ({ task, weight: 1 }));

describe('packContexts', () => {
  it('packs every built-in task into well-formed contexts', () => {
    for (const task of allTasks()) {
      for (const contextLength of [64, 300]) {
        const contexts = packContexts({ tokenizer: tok, sources: [{ task, weight: 1 }], contextLength, objective: 'manyicl', seed: 1, count: 20 });
        for (const ctx of contexts) expect(contextProblems(ctx, contextLength, tok), task.name).toEqual([]);
        if (contextLength === 300) expect(contexts.every((c) => c.answers.length >= 3)).toBe(true);
      }
    }
  });

  it('keeps shot text exactly as the template renders it', () => {
    const [ctx] = packContexts({ tokenizer: tok, sources: [{ task: arithmeticTask(), weight: 1 }], contextLength: 80, objective: 'manyicl', seed: 2, count: 1 });
    const task = arithmeticTask();
    const text = ctx.answers.map((a) => {
      const e = task.example(Number(a.exampleId.split('-')[1]));
      return `q: ${e.input}\na: ${e.answer}\n`;
    }).join('\n');
    expect(tok.decode(ctx.inputIds)).toBe(text);
    expect(ctx.inputIds[0]).toBe(tok.bosId);
  });

  it('stops at the first shot that does not fit, so the free space is smaller than one shot', () => {
    // BOS + shots of 'in: 000000\nout:' (15) + ' ab\n' (4), with a '\n' before every shot but the first.
    for (const contextLength of [40, 57, 58, 59, 100]) {
      const [ctx] = packContexts({ tokenizer: tok, sources: [{ task: fixedLengthTask('f', 100), weight: 1 }], contextLength, objective: 'manyicl', seed: 3, count: 1 });
      const expectedShots = Math.floor((contextLength - 1 - 19) / 20) + 1;
      expect(ctx.answers.length).toBe(expectedShots);
      expect(ctx.attentionMask.filter((m) => m === 1).length).toBe(1 + 19 + (expectedShots - 1) * 20);
      expect(contextProblems(ctx, contextLength, tok)).toEqual([]);
    }
  });

  it('never repeats an example or an input text within a context', () => {
    // A pool of 5 in a context with room for many more shots.
    const small = fixedLengthTask('small', 5);
    const contexts = packContexts({ tokenizer: tok, sources: [{ task: small, weight: 1 }], contextLength: 400, objective: 'manyicl', seed: 4, count: 10 });
    for (const ctx of contexts) {
      expect(ctx.answers.length).toBe(5);
      expect(new Set(ctx.answers.map((a) => a.exampleId)).size).toBe(5);
    }
    // Distinct ids but only three distinct inputs.
    const repeats = listSource(
      Array.from({ length: 9 }, (_, i) => ({ id: `r-${i}`, task: 'r', family: 'qa' as const, input: `x${i % 3}`, answer: 'y' })),
      { name: 'r', family: 'qa' },
    );
    for (const ctx of packContexts({ tokenizer: tok, sources: [{ task: repeats, weight: 1 }], contextLength: 400, objective: 'manyicl', seed: 4, count: 10 })) {
      const inputs = ctx.answers.map((a) => repeats.example(Number(a.exampleId.split('-')[1])).input);
      expect(inputs.length).toBe(3);
      expect(new Set(inputs).size).toBe(3);
    }
  });

  it('draws different examples for different contexts', () => {
    const contexts = packContexts({ tokenizer: tok, sources: [{ task: arithmeticTask(), weight: 1 }], contextLength: 100, objective: 'manyicl', seed: 4, count: 20 });
    const ids = contexts.flatMap((c) => c.answers.map((a) => a.exampleId));
    expect(new Set(ids).size).toBeGreaterThan(ids.length * 0.9);
    expect(new Set(contexts.map((c) => c.answers[0].exampleId)).size).toBeGreaterThan(15);
  });

  it('respects maxShots and puts one example in a zero-shot context', () => {
    const sources = mixture(allTasks());
    for (const ctx of packContexts({ tokenizer: tok, sources, contextLength: 400, objective: 'manyicl', maxShots: 3, seed: 5, count: 20 })) {
      expect(ctx.answers.length).toBe(3);
    }
    for (const ctx of packContexts({ tokenizer: tok, sources, contextLength: 400, objective: 'zero-shot', maxShots: 3, seed: 5, count: 20 })) {
      expect(ctx.answers.length).toBe(1);
      expect(contextProblems(ctx, 400, tok)).toEqual([]);
    }
  });

  it('labels every answer for last-answer too (the loss picks the final one: train/objectives.test.ts)', () => {
    const base = { tokenizer: tok, sources: mixture(allTasks()), contextLength: 200, seed: 6, count: 4 };
    expect(packContexts({ ...base, objective: 'last-answer' })).toEqual(packContexts({ ...base, objective: 'manyicl' }));
  });

  it('works without BOS', () => {
    const noBos = charTokenizer(undefined, { bos: false });
    const [ctx] = packContexts({ tokenizer: noBos, sources: [{ task: nliTask(), weight: 1 }], contextLength: 200, objective: 'manyicl', seed: 7, count: 1 });
    expect(noBos.decode(ctx.inputIds.slice(0, 3))).toBe('p: ');
    expect(contextProblems(ctx, 200, noBos)).toEqual([]);
  });

  it('fails clearly when no example fits', () => {
    expect(() => packContexts({ tokenizer: tok, sources: [{ task: nliTask(), weight: 1 }], contextLength: 20, objective: 'manyicl', seed: 1, count: 1 }))
      .toThrow(/no example fits a context of 20 tokens/);
  });

  it('rejects bad options', () => {
    const sources = [{ task: arithmeticTask(), weight: 1 }];
    const base = { tokenizer: tok, sources, contextLength: 100, objective: 'manyicl' as const, seed: 1, count: 1 };
    expect(() => packContexts({ ...base, sources: [] })).toThrow(/no task sources/);
    expect(() => packContexts({ ...base, sources: [{ task: arithmeticTask(), weight: 0 }] })).toThrow(/weight 0/);
    expect(() => packContexts({ ...base, sources: [{ task: arithmeticTask(), weight: -1 }] })).toThrow(/bad weight/);
    expect(() => packContexts({ ...base, sources: [...sources, ...sources] })).toThrow(/twice/);
    expect(() => packContexts({ ...base, maxShots: 0 })).toThrow(/maxShots/);
  });
});

describe('label remapping', () => {
  it('draws a new mapping per context and uses it for every shot of the context', () => {
    const task = sentimentTask();
    const contexts = packContexts({ tokenizer: tok, sources: [{ task, weight: 1 }], contextLength: 300, objective: 'manyicl', seed: 8, count: 40 });
    const maps = contexts.map((c) => c.labelMaps.sentiment);
    expect(new Set(maps.map((m) => JSON.stringify(m))).size).toBeGreaterThan(30);
    for (const ctx of contexts) {
      const map = ctx.labelMaps.sentiment;
      expect(map.positive).not.toBe(map.negative);
      for (const a of ctx.answers) {
        const canonical = task.example(Number(a.exampleId.split('-')[1])).answer;
        expect(a.answer).toBe(map[canonical]);
      }
      expect(contextProblems(ctx, 300, tok)).toEqual([]);
    }
  });

  it('keeps labels when remapping is off, and maps each task of a mixed context separately', () => {
    const [plain] = packContexts({ tokenizer: tok, sources: [{ task: sentimentTask({ remapLabels: false }), weight: 1 }], contextLength: 200, objective: 'manyicl', seed: 8, count: 1 });
    expect(plain.labelMaps).toEqual({});
    expect(plain.answers.every((a) => a.answer === 'positive' || a.answer === 'negative')).toBe(true);

    const mixed = packContexts({ tokenizer: tok, sources: mixture([sentimentTask(), nliTask(), arithmeticTask()]), contextLength: 600, objective: 'manyicl', mixing: 'shot', seed: 9, count: 10 });
    for (const ctx of mixed) {
      const tasks = new Set(ctx.answers.map((a) => a.task));
      expect(Object.keys(ctx.labelMaps).sort()).toEqual(['nli', 'sentiment'].filter((t) => tasks.has(t)));
      expect(contextProblems(ctx, 600, tok)).toEqual([]);
    }
  });
});

describe('mixtures', () => {
  const tasks = [fixedLengthTask('a', 500), fixedLengthTask('b', 500), fixedLengthTask('c', 500), fixedLengthTask('d', 500)];
  const weights = [1, 2, 5, 0];

  it('draw whole contexts in proportion to the weights', () => {
    const sources = tasks.map((task, i) => ({ task, weight: weights[i] }));
    const contexts = packContexts({ tokenizer: tok, sources, contextLength: 60, objective: 'manyicl', seed: 10, count: 4000 });
    const counts = new Map<string, number>();
    for (const ctx of contexts) {
      expect(new Set(ctx.answers.map((a) => a.task)).size).toBe(1);
      counts.set(ctx.answers[0].task, (counts.get(ctx.answers[0].task) ?? 0) + 1);
    }
    expect(counts.get('d')).toBeUndefined();
    expect(counts.get('a')! / 4000).toBeCloseTo(1 / 8, 1);
    expect(counts.get('b')! / 4000).toBeCloseTo(2 / 8, 1);
    expect(counts.get('c')! / 4000).toBeCloseTo(5 / 8, 1);
    expect(Math.abs(counts.get('c')! / 4000 - 5 / 8)).toBeLessThan(0.03);
  });

  it('draw single shots in proportion to the weights with per-shot mixing', () => {
    const sources = tasks.map((task, i) => ({ task, weight: weights[i] }));
    const contexts = packContexts({ tokenizer: tok, sources, contextLength: 400, objective: 'manyicl', mixing: 'shot', seed: 11, count: 400 });
    const counts = new Map<string, number>();
    let shots = 0;
    for (const ctx of contexts) {
      expect(contextProblems(ctx, 400, tok)).toEqual([]);
      for (const a of ctx.answers) counts.set(a.task, (counts.get(a.task) ?? 0) + 1);
      shots += ctx.answers.length;
    }
    expect(counts.get('d')).toBeUndefined();
    expect(Math.abs(counts.get('a')! / shots - 1 / 8)).toBeLessThan(0.02);
    expect(Math.abs(counts.get('b')! / shots - 2 / 8)).toBeLessThan(0.02);
    expect(Math.abs(counts.get('c')! / shots - 5 / 8)).toBeLessThan(0.02);
    expect(contexts.some((c) => new Set(c.answers.map((a) => a.task)).size === 3)).toBe(true);
  });
});

describe('ContextStream', () => {
  const opts: StreamOptions = { tokenizer: tok, sources: mixture(allTasks()), contextLength: 128, objective: 'manyicl', seed: 12 };

  it('resumes from a JSON cursor with exactly the same contexts', () => {
    const stream = new ContextStream(opts);
    const first = stream.next(3);
    const cursor = JSON.parse(JSON.stringify(stream.cursor));
    expect(cursor.position).toBe(3);
    const rest = stream.next(5);
    const resumed = ContextStream.resume(opts, cursor);
    expect(resumed.next(5)).toEqual(rest);
    expect(resumed.cursor).toEqual(stream.cursor);
    expect(packContexts({ ...opts, count: 8 })).toEqual([...first, ...rest]);
    expect(first.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new ContextStream(opts).contextAt(6)).toEqual(rest[3]);
  });

  it('differs with the seed, and refuses a cursor of another stream', () => {
    const a = new ContextStream(opts).next(2);
    const b = new ContextStream({ ...opts, seed: 13 }).next(2);
    expect(a).not.toEqual(b);
    const cursor = new ContextStream(opts).cursor;
    expect(() => ContextStream.resume({ ...opts, seed: 13 }, cursor)).toThrow(/seed/);
    expect(() => ContextStream.resume({ ...opts, contextLength: 256 }, cursor)).toThrow(/other options/);
    expect(() => ContextStream.resume({ ...opts, sources: mixture(allTasks().slice(1)) }, cursor)).toThrow(/other options/);
    expect(() => ContextStream.resume(opts, { ...cursor, position: -1 })).toThrow(/position/);
  });
});

describe('toSequenceBatch', () => {
  it('gives the engine rows and answer spans', () => {
    const contexts = packContexts({ tokenizer: tok, sources: mixture(allTasks()), contextLength: 96, objective: 'manyicl', seed: 14, count: 3 });
    const batch = toSequenceBatch(contexts);
    expect(batch.inputIds.length).toBe(3);
    expect(batch.inputIds[1]).toEqual(contexts[1].inputIds);
    expect(batch.labels[2]).toEqual(contexts[2].labels);
    expect(batch.attentionMask[0]).toEqual(contexts[0].attentionMask);
    expect(batch.answerSpans[1]).toEqual(contexts[1].answers.map((a) => a.span));
    batch.inputIds[0][0] = 99; // a copy, not the context's own array
    expect(contexts[0].inputIds[0]).toBe(tok.bosId);
  });

  it('rejects contexts of different lengths', () => {
    const a = packContexts({ tokenizer: tok, sources: mixture([arithmeticTask()]), contextLength: 64, objective: 'manyicl', seed: 1, count: 1 });
    const b = packContexts({ tokenizer: tok, sources: mixture([arithmeticTask()]), contextLength: 65, objective: 'manyicl', seed: 1, count: 1 });
    expect(() => toSequenceBatch([...a, ...b])).toThrow(/not 64 tokens long/);
    expect(() => toSequenceBatch([])).toThrow(/no contexts/);
  });
});

describe('previewTokens', () => {
  it('covers the real tokens, marking targets and shots', () => {
    const [ctx] = packContexts({ tokenizer: tok, sources: mixture([keyEntityTask()]), contextLength: 160, objective: 'manyicl', seed: 15, count: 1 });
    const preview = previewTokens(ctx, tok);
    const real = ctx.attentionMask.filter((m) => m === 1).length;
    expect(preview.length).toBe(real);
    expect(preview.map((p) => p.text).join('')).toBe(tok.decode(ctx.inputIds));
    expect(preview[0]).toEqual({ text: '', isTarget: false, shot: null }); // BOS
    for (const a of ctx.answers) {
      const target = preview.slice(a.span[0], a.span[1]);
      expect(target.every((p) => p.isTarget && p.shot === a.shot)).toBe(true);
      expect(target.map((p) => p.text).join('')).toBe(` ${a.answer}\n`);
      expect(preview.slice(a.start, a.span[0]).every((p) => !p.isTarget && p.shot === a.shot)).toBe(true);
      if (a.shot > 0) expect(preview[a.start - 1]).toEqual({ text: '\n', isTarget: false, shot: null }); // separator
    }
    expect(preview.filter((p) => p.isTarget).length).toBe(ctx.labels.filter((l) => l !== -100).length);
  });

  it('keeps characters that span several tokens whole', () => {
    // UTF-8 bytes as tokens: 'é' is two of them.
    const bytes: Tokenizer = {
      vocabSize: 258, bosId: 256, eosId: 257, padId: 257,
      encode: (text) => [...new TextEncoder().encode(text)],
      decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids.filter((id) => id < 256))),
    };
    const task = listSource([{ id: 'e-0', task: 'e', family: 'qa', input: 'café?', answer: 'né' }], { name: 'e', family: 'qa' });
    const [ctx] = packContexts({ tokenizer: bytes, sources: [{ task, weight: 1 }], contextLength: 32, objective: 'manyicl', seed: 1, count: 1 });
    expect(contextProblems(ctx, 32, bytes)).toEqual([]);
    const preview = previewTokens(ctx, bytes);
    expect(preview.map((p) => p.text).join('')).toBe('café?\na: né\n');
    expect(preview.filter((p) => p.text.includes('\ufffd'))).toEqual([]);
    expect(preview.filter((p) => p.isTarget).map((p) => p.text)).toEqual([' ', 'n', '', 'é', '\n']);
  });
});
