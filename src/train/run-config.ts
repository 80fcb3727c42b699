// What a run is: its config (persisted with the run), the defaults, validation, the task mixture it trains on,
// the contexts it packs, and the runs one "Create" makes.
import { ContextStream, type PreviewToken, type StreamOptions, type WeightedSource, previewTokens } from '../data/packer';
import { BUILTIN_TASKS, type Example, type LabelMap, TEST_FRACTION, type TaskFamily, type TaskSource, heldOutSplit, listSource } from '../data/tasks';
import type { Tokenizer } from '../data/tokenizer';
import type { QuantizeOnLoad } from '../engine/load';
import type { ActivationDtype } from '../engine/activations';
import { LORA_TARGETS as LORA_TARGET_NAMES, type LoraTarget } from '../engine/spec';
import { EMBEDDED_SPEC } from '../model/embedded';
import { RUN_OBJECTIVES, type RunObjective, packObjective } from './objectives';

export type { QuantizeOnLoad };

/** The linear layers a run's LoRA adapter can target, in layer order. */
export { LORA_TARGETS, type LoraTarget } from '../engine/spec';

export interface RunConfig {
  /**
   * Which model: the embedded one, a full-parameter run's checkpoint, or a model in the browser's model cache
   * (src/model/sources/library.ts: downloaded from the Hub or a URL, or copied from a local file).
   */
  model:
    | { source: 'embedded'; id: string }
    | { source: 'checkpoint'; runId: string }
    | { source: 'cached'; id: string; name: string; /** Quantize F32/F16/BF16 linear weights on the GPU while loading. */ quantize?: QuantizeOnLoad };
  /** 'full' trains every weight (for the small embedded model, starting from random); 'lora' trains an adapter. */
  mode: 'full' | 'lora';
  objective: RunObjective;
  /** Built-in task names (src/data/tasks.ts) with mixture weights. */
  tasks: { task: string; weight: number }[];
  /**
   * The share of every task held out for evaluation (by input text): training draws only from the rest. Runs
   * made before evaluation existed have none and train on whole tasks.
   */
  testFraction?: number;
  /** Imported datasets (JSONL/CSV uploads, Hugging Face datasets) in the mixture, stored with the run. */
  datasets?: ImportedTask[];
  /**
   * Built-in label tasks (sentiment, topic, nli) give their labels new, arbitrary names in every context, so only
   * the shots say what each label means (this forces in-context learning). false keeps the real labels. Absent
   * (runs made before the switch existed): true.
   */
  renameLabels?: boolean;
  contextLength: number;
  /** At most this many shots per context (all that fit when absent). */
  maxShots?: number;
  batchSize: number;
  gradAccumulation: number;
  /** useRslora (scale by alpha / sqrt(rank)) only for adapters imported with it. */
  lora: { rank: number; alpha: number; targets: LoraTarget[]; useRslora?: boolean };
  lr: number;
  warmupSteps: number;
  /** Cosine decay to lr * minLrRatio at the last step. */
  minLrRatio: number;
  steps: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  checkpointEvery: number;
  recompute: boolean;
  /**
   * How the layers' saved inputs are stored: f32, or f16 pairs (half their memory; the base products then take
   * f16 operands where a half-precision kernel passes its self-test on the GPU, the rest stays f32). Absent:
   * activationDtype's rule, f16 for cached models (real checkpoints, where memory decides) and f32 otherwise.
   */
  activations?: ActivationDtype;
}

/** The activations of a run: its own setting, else f16 for cached models and f32 for the embedded model and its runs. */
export function activationDtype(config: Pick<RunConfig, 'activations' | 'model'>): ActivationDtype {
  return config.activations ?? (config.model.source === 'cached' ? 'f16' : 'f32');
}


/** An imported dataset (JSONL/CSV upload or Hugging Face rows) as a run stores it. */
export interface ImportedTask {
  name: string;
  family: TaskFamily;
  examples: Example[];
  weight: number;
}

/** A run that shows in-context learning on the embedded model in a few minutes on a laptop GPU. */
export function defaultRunConfig(): RunConfig {
  return {
    model: { source: 'embedded', id: 'manyicl-tiny' },
    mode: 'full',
    objective: 'manyicl',
    tasks: [
      { task: 'sentiment', weight: 1 },
      { task: 'arithmetic', weight: 1 },
    ],
    contextLength: 256,
    batchSize: 4,
    gradAccumulation: 1,
    lora: { rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
    lr: 1e-3,
    warmupSteps: 20,
    minLrRatio: 0.1,
    steps: 500,
    weightDecay: 0.01,
    maxGradNorm: 1,
    seed: 1,
    checkpointEvery: 10,
    recompute: false,
    testFraction: TEST_FRACTION,
  };
}

/** The base model in a few words, for run headers and lists. */
export function describeModel(model: RunConfig['model']): string {
  if (model.source === 'embedded') return model.id;
  if (model.source === 'checkpoint') return `from run ${model.runId}`;
  return model.quantize ? `${model.name} (${model.quantize} on load)` : model.name;
}

/** The run's tasks as whole sources: built-in generators made with the run's seed, and imported datasets. */
export function taskSources(config: Pick<RunConfig, 'tasks' | 'datasets' | 'seed' | 'renameLabels'>): WeightedSource[] {
  const builtin = config.tasks.map(({ task, weight }) => {
    const make = BUILTIN_TASKS[task];
    if (!make) throw new Error(`unknown task ${task}; built-in tasks: ${Object.keys(BUILTIN_TASKS).join(', ')}`);
    return { task: make({ seed: config.seed, remapLabels: config.renameLabels ?? true }), weight };
  });
  const imported = (config.datasets ?? []).map((d) => ({ task: listSource(d.examples, { name: d.name, family: d.family }), weight: d.weight }));
  return [...builtin, ...imported];
}

/** The run's training mixture: each task's training split when the run holds out a test split, else the task. */
export function runSources(config: Pick<RunConfig, 'tasks' | 'datasets' | 'seed' | 'testFraction' | 'renameLabels'>): WeightedSource[] {
  const { testFraction } = config;
  return taskSources(config).map((s) => (testFraction ? { ...s, task: trainSplit(s.task, testFraction).task } : s));
}

/** What a run trains on of a task: its training split, or the whole task when it is too small to split. */
export function trainSplit(task: TaskSource, testFraction: number): { task: TaskSource; heldOut: boolean } {
  try {
    return { task: heldOutSplit(task, testFraction).train, heldOut: true };
  } catch {
    return { task, heldOut: false };
  }
}

/** The packer's options for a run: its mixture, context length, shots and seed. */
export function streamOptions(config: RunConfig, tokenizer: Tokenizer): StreamOptions {
  const sources = runSources(config);
  if (sources.length === 0) throw new Error('choose at least one task');
  if (config.objective === 'dedicated' && sources.length !== 1) {
    throw new Error('a dedicated run trains one adapter on one task: make one run per task');
  }
  return { tokenizer, sources, contextLength: config.contextLength, objective: packObjective(config.objective), maxShots: config.maxShots, seed: config.seed };
}

/**
 * The runs "Create" makes: one, or for the dedicated baseline one per chosen task (built-in or imported),
 * each training its own adapter on its task alone.
 */
export function plannedRuns(config: RunConfig): { config: RunConfig; suffix: string }[] {
  if (config.objective !== 'dedicated') return [{ config, suffix: '' }];
  return [
    ...config.tasks.map((t) => ({ config: { ...config, tasks: [{ ...t, weight: 1 }], datasets: [] }, suffix: t.task })),
    ...(config.datasets ?? []).map((d) => ({ config: { ...config, tasks: [], datasets: [{ ...d, weight: 1 }] }, suffix: d.name })),
  ];
}

export interface ContextPreview {
  tokens: PreviewToken[];
  shots: number;
  /** Real (unpadded) tokens and how many of them are targets. */
  length: number;
  targetTokens: number;
  contextLength: number;
  /** Tasks of the context's shots, in order of first appearance. */
  tasks: string[];
  /** The one shot whose answer is trained (the last-answer objective), or null when every answer is. */
  trainedShot: number | null;
  /** The label renaming of this context, by task (real label -> the name it goes by here); tasks that keep theirs are absent. */
  labelMaps: Record<string, LabelMap>;
}

/** Context `index` of the stream the config describes, as the packer would train on it. */
export function buildPreview(config: RunConfig, tokenizer: Tokenizer, index: number): ContextPreview {
  const stream = new ContextStream({
    tokenizer,
    sources: runSources(config),
    contextLength: config.contextLength,
    objective: packObjective(config.objective),
    maxShots: config.maxShots,
    seed: config.seed,
  });
  const ctx = stream.contextAt(index);
  const tokens = previewTokens(ctx, tokenizer);
  return {
    tokens,
    shots: ctx.answers.length,
    length: tokens.length,
    targetTokens: tokens.filter((t) => t.isTarget).length,
    contextLength: config.contextLength,
    tasks: [...new Set(ctx.answers.map((a) => a.task))],
    trainedShot: config.objective === 'last-answer' ? ctx.answers.length - 1 : null,
    labelMaps: ctx.labelMaps,
  };
}

export interface SetupCheck {
  errors: string[];
  warnings: string[];
}

const isPositiveInt = (n: number) => Number.isInteger(n) && n >= 1;

/** Errors stop a run from being created; warnings are shown beside the Create button. */
export function validateConfig(config: RunConfig): SetupCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const datasets = config.datasets ?? [];
  const taskCount = config.tasks.length + datasets.length;
  if (taskCount === 0) errors.push('Choose at least one task: a built-in one or an imported dataset.');
  if ([...config.tasks, ...datasets].some((t) => !(t.weight > 0))) errors.push('Every chosen task needs a weight above 0.');
  const names = [...config.tasks.map((t) => t.task), ...datasets.map((d) => d.name)];
  const repeated = [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
  if (repeated.length > 0) errors.push(`Two chosen tasks are named ${repeated.join(', ')}: untick one of them.`);
  if (config.testFraction) {
    for (const d of datasets) {
      if (!trainSplit(listSource(d.examples, { name: d.name, family: d.family }), config.testFraction).heldOut) {
        warnings.push(`${d.name} has too few examples to hold out a test split: it is trained on whole, and not evaluated.`);
      }
    }
  }
  if (config.objective === 'dedicated' && taskCount > 1) {
    warnings.push(`Dedicated: ${taskCount} runs will be made, one adapter per task.`);
  }
  // The embedded architecture's limit; a cached model's own limit is checked when the worker loads it.
  const maxContext = config.model.source === 'cached' ? Infinity : EMBEDDED_SPEC.maxPositionEmbeddings;
  if (!isPositiveInt(config.contextLength) || config.contextLength < 16) errors.push('The context length must be a whole number of at least 16 tokens.');
  else if (config.contextLength > maxContext) errors.push(`The model takes at most ${maxContext} tokens of context.`);
  if (config.maxShots !== undefined && !isPositiveInt(config.maxShots)) errors.push('Max shots must be a whole number of at least 1, or empty.');
  for (const [label, value] of [
    ['Batch size', config.batchSize],
    ['Gradient accumulation', config.gradAccumulation],
    ['Steps', config.steps],
    ['Checkpoint interval', config.checkpointEvery],
  ] as const) {
    if (!isPositiveInt(value)) errors.push(`${label} must be a whole number of at least 1.`);
  }
  if (!(config.lr > 0 && config.lr < 1)) errors.push('The learning rate must be between 0 and 1.');
  if (!(Number.isInteger(config.warmupSteps) && config.warmupSteps >= 0)) errors.push('Warmup must be a whole number of steps.');
  else if (config.warmupSteps >= config.steps) warnings.push('Warmup lasts the whole run.');
  if (!Number.isInteger(config.seed)) errors.push('The seed must be a whole number.');
  if (config.mode === 'lora') {
    if (!isPositiveInt(config.lora.rank)) errors.push('The LoRA rank must be a whole number of at least 1.');
    if (!(config.lora.alpha > 0)) errors.push('LoRA alpha must be above 0.');
    if (config.lora.targets.length === 0) errors.push('Choose at least one layer for LoRA.');
    if (config.model.source === 'embedded') {
      warnings.push('The embedded model is randomly initialised: train it in full-parameter mode first, then fine-tune that run with LoRA.');
    }
  }
  return { errors, warnings };
}

/** A run config as a file: the RunConfig itself, tagged so that a file of another kind is refused by name. */
export const RUN_CONFIG_FORMAT = 'manyicl-run-config';
export const RUN_CONFIG_VERSION = 1;

export function runConfigJson(config: RunConfig): string {
  return `${JSON.stringify({ format: RUN_CONFIG_FORMAT, version: RUN_CONFIG_VERSION, ...config }, null, 2)}\n`;
}

/**
 * Reads a run config file (from runConfigJson, or written by hand): fields that are absent take the defaults of
 * defaultRunConfig; a field of the wrong type, an unknown field or a config that validateConfig refuses throws,
 * naming the field.
 */
export function parseRunConfig(text: string, source = 'run config'): RunConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`);
  }
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const { format, version, ...fields } = value as Record<string, unknown>;
  if (format !== undefined && format !== RUN_CONFIG_FORMAT) fail(`format is ${JSON.stringify(format)}, not "${RUN_CONFIG_FORMAT}"`);
  if (version !== undefined && version !== RUN_CONFIG_VERSION) fail(`version ${JSON.stringify(version)} is not supported (only ${RUN_CONFIG_VERSION})`);
  const defaults = defaultRunConfig();
  const optional = new Set(['maxShots', 'datasets', 'testFraction', 'renameLabels', 'activations']);
  for (const key of Object.keys(fields)) {
    if (!(key in defaults) && !optional.has(key)) fail(`unknown field "${key}"`);
  }
  const config = { ...defaults, ...fields } as RunConfig;
  const kinds: [keyof RunConfig, string][] = [
    ['contextLength', 'number'], ['batchSize', 'number'], ['gradAccumulation', 'number'], ['lr', 'number'], ['warmupSteps', 'number'],
    ['minLrRatio', 'number'], ['steps', 'number'], ['weightDecay', 'number'], ['maxGradNorm', 'number'], ['seed', 'number'],
    ['checkpointEvery', 'number'], ['recompute', 'boolean'], ['objective', 'string'], ['mode', 'string'],
  ];
  for (const [key, kind] of kinds) if (typeof config[key] !== kind) fail(`${key} must be a ${kind}, got ${JSON.stringify(config[key])}`);
  if (config.renameLabels !== undefined && typeof config.renameLabels !== 'boolean') fail(`renameLabels must be a boolean, got ${JSON.stringify(config.renameLabels)}`);
  if (config.activations !== undefined && config.activations !== 'f32' && config.activations !== 'f16') {
    fail(`activations must be "f32" or "f16", got ${JSON.stringify(config.activations)}`);
  }
  if (!['full', 'lora'].includes(config.mode)) fail(`mode must be "full" or "lora", got ${JSON.stringify(config.mode)}`);
  if (!RUN_OBJECTIVES.includes(config.objective)) fail(`objective must be one of ${RUN_OBJECTIVES.join(', ')}, got ${JSON.stringify(config.objective)}`);
  const model = config.model as unknown as Record<string, unknown> | null;
  if (typeof model !== 'object' || model === null || !['embedded', 'checkpoint', 'cached'].includes(model.source as string)) {
    fail(`model must be {"source": "embedded" | "checkpoint" | "cached", ...}, got ${JSON.stringify(config.model)}`);
  }
  if (!Array.isArray(config.tasks) || config.tasks.some((t) => typeof t?.task !== 'string' || typeof t.weight !== 'number')) {
    fail('tasks must be a list of {"task": name, "weight": number}');
  }
  for (const { task } of config.tasks) if (!BUILTIN_TASKS[task]) fail(`unknown task "${task}"; built-in tasks: ${Object.keys(BUILTIN_TASKS).join(', ')}`);
  const lora = config.lora as unknown as Record<string, unknown> | null;
  if (typeof lora !== 'object' || lora === null || typeof lora.rank !== 'number' || typeof lora.alpha !== 'number' || !Array.isArray(lora.targets)) {
    fail('lora must be {"rank": number, "alpha": number, "targets": [...]}');
  }
  for (const target of config.lora.targets) if (!(LORA_TARGET_NAMES as readonly string[]).includes(target)) fail(`unknown LoRA target "${target}"`);
  const { errors } = validateConfig(config);
  if (errors.length > 0) fail(errors.join(' '));
  return config;
}
