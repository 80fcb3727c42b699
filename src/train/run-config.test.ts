import { describe, expect, it, test } from 'vitest';
import type { ImportedTask, RunConfig } from './run-config';
import { charTokenizer } from '../data/tokenizer';
import { heldOutSplit } from '../data/tasks';
import { ContextStream } from '../data/packer';
import { activationDtype, buildPreview, defaultRunConfig, parseRunConfig, runConfigJson, runSources, streamOptions, taskSources, trainSplit, validateConfig } from './run-config';

const config = (patch: Partial<RunConfig> = {}): RunConfig => ({ ...defaultRunConfig(), ...patch });

describe('validateConfig', () => {
  test('the default config is valid', () => {
    expect(validateConfig(defaultRunConfig())).toEqual({ errors: [], warnings: [] });
  });

  test('names what is wrong', () => {
    expect(validateConfig(config({ tasks: [] })).errors).toContain('Choose at least one task: a built-in one or an imported dataset.');
    expect(validateConfig(config({ objective: 'dedicated' })).warnings.join(' ')).toMatch(/2 runs will be made, one adapter per task/);
    expect(validateConfig(config({ contextLength: 4096 })).errors.join(' ')).toMatch(/at most 1024 tokens/);
    expect(validateConfig(config({ batchSize: 0, lr: 0 })).errors).toEqual([
      'Batch size must be a whole number of at least 1.',
      'The learning rate must be between 0 and 1.',
    ]);
    const lora = validateConfig(config({ mode: 'lora', lora: { rank: 8, alpha: 16, targets: [] } }));
    expect(lora.errors).toContain('Choose at least one layer for LoRA.');
    expect(lora.warnings.join(' ')).toMatch(/randomly initialised/);
    expect(validateConfig(config({ mode: 'lora', model: { source: 'checkpoint', runId: 'r1' } })).warnings).toEqual([]);
  });
});

describe('buildPreview', () => {
  test('a preview context has the answers as its targets', () => {
    const tokenizer = charTokenizer();
    const preview = buildPreview(config({ contextLength: 200, tasks: [{ task: 'arithmetic', weight: 1 }] }), tokenizer, 0);
    expect(preview.shots).toBeGreaterThan(2);
    expect(preview.length).toBeLessThanOrEqual(200);
    expect(preview.tasks).toEqual(['arithmetic']);
    const targetText = preview.tokens.filter((t) => t.isTarget).map((t) => t.text).join('');
    // Each answer is ' <answer>\n', so there are as many target newlines as shots.
    expect(targetText.split('\n').length - 1).toBe(preview.shots);
    expect(preview.targetTokens).toBe(targetText.length);
    const shotsSeen = new Set(preview.tokens.filter((t) => t.isTarget).map((t) => t.shot));
    expect(shotsSeen.size).toBe(preview.shots);
  });

  test('zero-shot has one shot; max shots caps the others; imports join the mixture', () => {
    const tokenizer = charTokenizer();
    expect(buildPreview(config({ objective: 'zero-shot' }), tokenizer, 3).shots).toBe(1);
    expect(buildPreview(config({ maxShots: 2 }), tokenizer, 0).shots).toBe(2);
    const imported: ImportedTask = {
      name: 'mine', family: 'classification', weight: 1000,
      examples: Array.from({ length: 20 }, (_, i) => ({ id: `m${i}`, task: 'mine', family: 'classification' as const, input: `item ${i}`, answer: i % 2 ? 'odd' : 'even' })),
    };
    const preview = buildPreview(config({ tasks: [{ task: 'sentiment', weight: 0.001 }], datasets: [imported] }), tokenizer, 0);
    expect(preview.tasks).toEqual(['mine']);
    expect(() => buildPreview(config({ tasks: [] }), tokenizer, 0)).toThrow(/no task sources/);
  });
});

describe('held-out test split', () => {
  const inputs = (task: { size: number; example(i: number): { input: string } }) => new Set(Array.from({ length: task.size }, (_, i) => task.example(i).input));

  test('a run trains only on the training split of each task; a run made before evaluation trains on whole tasks', () => {
    const cfg = config({ tasks: [{ task: 'arithmetic', weight: 1 }, { task: 'nli', weight: 2 }] });
    const whole = taskSources(cfg);
    const trained = runSources(cfg);
    expect(trained.map((s) => s.weight)).toEqual([1, 2]);
    whole.forEach((source, i) => {
      const { test } = heldOutSplit(source.task, cfg.testFraction);
      const seen = inputs(trained[i].task);
      expect(trained[i].task.size + test.size).toBe(source.task.size);
      for (const input of inputs(test)) expect(seen.has(input)).toBe(false);
    });
    expect(runSources({ ...cfg, testFraction: undefined }).map((s) => s.task.size)).toEqual(whole.map((s) => s.task.size));
  });

  test('an import too small to split is trained on whole, with a warning', () => {
    const tiny: ImportedTask = { name: 'tiny', family: 'qa', weight: 1, examples: [{ id: 'a', task: 'tiny', family: 'qa', input: 'x', answer: 'y' }] };
    expect(trainSplit(taskSources(config({ tasks: [], datasets: [tiny] }))[0].task, 0.1).heldOut).toBe(false);
    expect(runSources(config({ tasks: [], datasets: [tiny] }))[0].task.size).toBe(1);
    expect(validateConfig(config({ datasets: [tiny] })).warnings).toEqual(['tiny has too few examples to hold out a test split: it is trained on whole, and not evaluated.']);
  });
});

describe('run config files', () => {
  it('round-trips through runConfigJson, and takes the defaults for absent fields', () => {
    const config = { ...defaultRunConfig(), steps: 7, lora: { rank: 4, alpha: 8, targets: ['q_proj' as const] } };
    expect(parseRunConfig(runConfigJson(config))).toEqual(config);
    expect(parseRunConfig('{"steps": 3}')).toEqual({ ...defaultRunConfig(), steps: 3 });
  });

  it('refuses a file that is not a run config, naming the field', () => {
    expect(() => parseRunConfig('{', 'a.json')).toThrow(/a\.json: not valid JSON/);
    expect(() => parseRunConfig('{"format": "peft"}')).toThrow(/format is "peft", not "manyicl-run-config"/);
    expect(() => parseRunConfig('{"stepz": 3}')).toThrow(/unknown field "stepz"/);
    expect(() => parseRunConfig('{"steps": "3"}')).toThrow(/steps must be a number, got "3"/);
    expect(() => parseRunConfig('{"tasks": [{"task": "nope", "weight": 1}]}')).toThrow(/unknown task "nope"/);
    expect(() => parseRunConfig('{"objective": "magic"}')).toThrow(/objective must be one of manyicl, last-answer/);
    expect(() => parseRunConfig('{"lora": {"rank": 4, "alpha": 8, "targets": ["qkv"]}}')).toThrow(/unknown LoRA target "qkv"/);
    expect(() => parseRunConfig('{"steps": 0}')).toThrow(/Steps must be a whole number of at least 1/);
  });
});

describe('renameLabels: the switch to keep real labels', () => {
  const tokenizer = charTokenizer();
  const sentimentOnly = (patch: Partial<RunConfig> = {}) => config({ tasks: [{ task: 'sentiment', weight: 1 }], contextLength: 128, ...patch });

  test('absent (older configs) or true: labels are renamed per context; false: the real labels are trained', () => {
    for (const renamed of [sentimentOnly(), sentimentOnly({ renameLabels: true })]) {
      const preview = buildPreview(renamed, tokenizer, 0);
      expect(Object.keys(preview.labelMaps)).toEqual(['sentiment']);
      expect(Object.keys(preview.labelMaps.sentiment).sort()).toEqual(['negative', 'positive']);
      expect(runSources(renamed)[0].task.remapLabels).toBe(true);
    }
    const real = sentimentOnly({ renameLabels: false });
    expect(runSources(real)[0].task.remapLabels).toBe(false);
    const preview = buildPreview(real, tokenizer, 0);
    expect(preview.labelMaps).toEqual({});
    // The contexts the session and the cluster recipe train on (both pack through streamOptions) keep the real labels.
    const answers = new ContextStream(streamOptions(real, tokenizer)).next(4).flatMap((c) => c.answers.map((a) => a.answer));
    expect(new Set(answers)).toEqual(new Set(['positive', 'negative']));
    const renamedAnswers = new ContextStream(streamOptions(sentimentOnly(), tokenizer)).next(4).flatMap((c) => c.answers.map((a) => a.answer));
    expect(renamedAnswers.some((a) => a === 'positive' || a === 'negative')).toBe(false);
  });

  test('run config files carry it; a wrong type is refused by name', () => {
    expect(parseRunConfig(runConfigJson(sentimentOnly({ renameLabels: false }))).renameLabels).toBe(false);
    expect(parseRunConfig('{"steps": 3}').renameLabels).toBeUndefined();
    expect(() => parseRunConfig('{"renameLabels": "no"}', 'a.json')).toThrow('a.json: renameLabels must be a boolean, got "no"');
  });

  test('two chosen tasks of one name are refused', () => {
    const dataset: ImportedTask = { name: 'sentiment', family: 'classification', examples: [{ id: 'a', task: 'sentiment', family: 'classification', input: 'x', answer: 'y' }], weight: 1 };
    expect(validateConfig(config({ datasets: [dataset] })).errors).toContain('Two chosen tasks are named sentiment: untick one of them.');
  });
});

describe('activations', () => {
  test('f16 for cached models and f32 for the embedded model unless the config says; a config file is checked', () => {
    const cached: RunConfig['model'] = { source: 'cached', id: 'm', name: 'm.gguf' };
    expect(activationDtype(defaultRunConfig())).toBe('f32');
    expect(activationDtype({ ...defaultRunConfig(), model: cached })).toBe('f16');
    expect(activationDtype({ ...defaultRunConfig(), model: cached, activations: 'f32' })).toBe('f32');
    const config = { ...defaultRunConfig(), activations: 'f16' as const };
    expect(parseRunConfig(runConfigJson(config))).toEqual(config);
    expect(() => parseRunConfig(JSON.stringify({ ...defaultRunConfig(), activations: 'bf16' }), 'run.json')).toThrow('run.json: activations must be "f32" or "f16", got "bf16"');
  });
});
