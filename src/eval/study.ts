// The ManyICL study: from one base model and task mixture, the paper's comparison with the same budget of
// training tokens for every method, each evaluated at every shot count on the held-out test splits, and the
// forgetting of held-out tasks that no method trained on.
//   base        the base model with k-shot in-context learning, no training
//   zero-shot   fine-tuning on one example per sequence
//   few-shot    fine-tuning on many-shot contexts, the last answer the only target
//   manyicl     fine-tuning on many-shot contexts, every answer a target
//   dedicated   one adapter per task (ManyICL on that task alone), each evaluated on its own task
// A study is a list of units (one training run and its evaluations each); `completed` lets a caller skip the
// units it has already (a resumed study), and `onUnit` hands each finished one over to be kept.
import { ContextStream, toSequenceBatch } from '../data/packer';
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { Model } from '../engine/weights';
import type { Gpu } from '../gpu/gpu';
import type { RunObjective } from '../train/objectives';
import { type RunConfig, streamOptions, taskSources, trainSplit } from '../train/run-config';
import { TEST_FRACTION, type TaskSource } from '../data/tasks';
import { learningRate } from '../train/schedule';
import type { BaseModel } from '../train/session';
import { type RunTrainer, createTrainer, trainerConfig } from '../train/trainer';
import { type EvalOptions, type ForgettingRow, type ShotResult, evaluateTask, forgetting } from './evaluate';
import { type EvalTask, evalTask } from './protocol';

export const STUDY_METHODS = ['base', 'zero-shot', 'few-shot', 'manyicl', 'dedicated'] as const;
export type StudyMethod = (typeof STUDY_METHODS)[number];

export interface StudyConfig {
  /** The training settings every method shares (model, mode, LoRA, context length, batch, lr, seed...). Its
   * tasks are the mixture; `steps` ManyICL steps set the token budget: steps x batch x context length. */
  run: RunConfig;
  /** Built-in tasks no method trains on, scored before and after training (forgetting). */
  forgetting: string[];
  evaluation: Omit<EvalOptions, 'contextLength' | 'seed' | 'onProgress'>;
}

export interface StudyUnit {
  /** 'manyicl', 'dedicated:arithmetic', ... */
  key: string;
  method: StudyMethod;
  /** Real (unpadded) tokens trained on. */
  trainedTokens: number;
  steps: number;
  /** Results on the mixture's tasks (a dedicated unit: its one task). */
  results: ShotResult[];
  /** Results on the forgetting suite. */
  forgetting: ShotResult[];
  /** When the unit finished (ms since the epoch): a resumed study keeps the units it had. */
  finishedAt: number;
}

export interface StudyResult {
  units: StudyUnit[];
  /** task x method x shots. */
  table: { task: string; method: StudyMethod; shots: number; score: number; scores: Record<string, number> }[];
  forgetting: { method: StudyMethod; rows: ForgettingRow[]; meanDrop: number }[];
}

/** What the study worker tells the page. */
export type StudyEvent =
  | { type: 'unit'; unit: StudyUnit }
  | { type: 'progress'; done: number; total: number }
  | { type: 'log'; line: string }
  | { type: 'status'; status: 'done' | 'error'; message?: string };

export interface StudyCallbacks {
  completed?: ReadonlyMap<string, StudyUnit>;
  onUnit?: (unit: StudyUnit) => void | Promise<void>;
  log?: (line: string) => void;
  /** Units done and the number of units, after each one. */
  onProgress?: (done: number, total: number) => void;
}

const RUN_OBJECTIVE: Record<Exclude<StudyMethod, 'base'>, RunObjective> = {
  'zero-shot': 'zero-shot', 'few-shot': 'last-answer', manyicl: 'manyicl', dedicated: 'manyicl',
};

/** The most steps a method may take to reach the token budget (zero-shot contexts are mostly padding). */
const MAX_STEP_FACTOR = 64;

/**
 * Runs the study on `base`: weights in memory (a fresh model on the GPU for every unit), or a model already on
 * the GPU (a model from the cache), which every unit shares and LoRA leaves as it is; the caller frees that one.
 */
export async function runStudy(gpu: Gpu, base: BaseModel, config: StudyConfig, callbacks: StudyCallbacks = {}): Promise<StudyResult> {
  const run: RunConfig = { ...config.run, testFraction: config.run.testFraction ?? TEST_FRACTION };
  if ('model' in base && run.mode === 'full') throw new Error('a model on the GPU (from the model cache) is studied with LoRA adapters: set the mode to LoRA');
  const log = callbacks.log ?? (() => {});
  const budget = run.steps * run.batchSize * run.contextLength;
  // Tasks too small to hold out a test split train with the rest but are not evaluated.
  const evaluable = (task: TaskSource) => trainSplit(task, run.testFraction!).heldOut;
  const mixture = new Map(taskSources(run).filter((s) => evaluable(s.task)).map((s) => [s.task.name, evalTask(s.task, run.testFraction)]));
  for (const s of taskSources(run)) if (!mixture.has(s.task.name)) log(`${s.task.name}: too few examples to hold out a test split; not evaluated`);
  const tasksOf = (names: string[]) => names.flatMap((name) => mixture.get(name) ?? []);
  const heldOut = taskSources({ tasks: config.forgetting.map((task) => ({ task, weight: 1 })), seed: run.seed }).map((s) => evalTask(s.task));
  const plan: { key: string; method: StudyMethod; run: RunConfig | null; tasks: EvalTask[] }[] = [
    { key: 'base', method: 'base', run: null, tasks: [...mixture.values()] },
    ...(['zero-shot', 'few-shot', 'manyicl'] as const).map((method) => ({ key: method, method, run: { ...run, objective: RUN_OBJECTIVE[method] }, tasks: [...mixture.values()] })),
    ...run.tasks.map((t) => ({
      key: `dedicated:${t.task}`, method: 'dedicated' as const, tasks: tasksOf([t.task]),
      run: { ...run, objective: 'manyicl' as const, tasks: [{ ...t, weight: 1 }], datasets: [] },
    })),
    ...(run.datasets ?? []).map((d) => ({
      key: `dedicated:${d.name}`, method: 'dedicated' as const, tasks: tasksOf([d.name]),
      run: { ...run, objective: 'manyicl' as const, tasks: [], datasets: [{ ...d, weight: 1 }] },
    })),
  ];
  const dedicatedCount = plan.filter((p) => p.method === 'dedicated').length;
  const units: StudyUnit[] = [];
  for (const [i, unit] of plan.entries()) {
    const done = callbacks.completed?.get(unit.key);
    if (done) {
      units.push(done);
    } else {
      log(`${unit.key}: ${unit.run ? 'training' : 'evaluating the base model'}`);
      const unitBudget = unit.method === 'dedicated' ? Math.ceil(budget / dedicatedCount) : budget;
      const trained = unit.run ? await train(gpu, base, unit.run, unitBudget, log) : null;
      const model = trained?.model ?? ('model' in base ? base.model : Model.fromTensors(gpu, base.spec, base.tensors));
      try {
        const generator = new Generator(model, trained?.trainable instanceof LoraAdapter ? trained.trainable : null);
        const evaluate = async (tasks: EvalTask[]) => {
          const results: ShotResult[] = [];
          for (const task of tasks) {
            results.push(...(await evaluateTask(generator, base.tokenizer, task, { ...config.evaluation, contextLength: run.contextLength, seed: run.seed })));
          }
          return results;
        };
        const finished: StudyUnit = {
          key: unit.key, method: unit.method, trainedTokens: trained?.tokens ?? 0, steps: trained?.steps ?? 0,
          results: await evaluate(unit.tasks), forgetting: await evaluate(heldOut), finishedAt: Date.now(),
        };
        units.push(finished);
        await callbacks.onUnit?.(finished);
      } finally {
        if (trained) trained.destroy();
        else if (!('model' in base)) model.destroy();
      }
    }
    callbacks.onProgress?.(i + 1, plan.length);
  }
  return summarize(units);
}

/** Trains one method until it has seen `budget` real tokens; the trainer (model and weights) is the caller's. */
async function train(gpu: Gpu, base: BaseModel, run: RunConfig, budget: number, log: (line: string) => void): Promise<RunTrainer & { tokens: number; steps: number }> {
  const training = 'model' in base
    ? createTrainer(gpu, base.model, trainerConfig(run), { borrowModel: true })
    : createTrainer(gpu, Model.fromTensors(gpu, base.spec, base.tensors), trainerConfig(run));
  try {
    const stream = new ContextStream(streamOptions(run, base.tokenizer));
    let tokens = 0;
    let steps = 0;
    let plannedSteps = run.steps;
    while (tokens < budget && steps < MAX_STEP_FACTOR * run.steps) {
      const contexts = stream.next(run.batchSize);
      const stepTokens = contexts.reduce((n, c) => n + c.attentionMask.reduce((a, m) => a + m, 0), 0);
      if (steps === 0) plannedSteps = Math.min(MAX_STEP_FACTOR * run.steps, Math.ceil(budget / stepTokens));
      steps += 1;
      const { loss } = await training.trainer.step([toSequenceBatch(contexts)], { lr: learningRate(steps, { ...run, steps: plannedSteps }) });
      tokens += stepTokens;
      if (steps % 10 === 0 || tokens >= budget) log(`  step ${steps}: loss ${loss.toFixed(4)}, ${tokens} of ${budget} tokens`);
    }
    return { ...training, tokens, steps };
  } catch (error) {
    training.destroy();
    throw error;
  }
}

/** The results table (task x method x shots) and each trained method's forgetting against the base model. */
export function summarize(units: StudyUnit[]): StudyResult {
  const table = units.flatMap((u) => u.results.map((r) => ({ task: r.task, method: u.method, shots: r.shots, score: r.score, scores: r.scores })));
  const baseUnit = units.find((u) => u.method === 'base');
  const methods = [...new Set(units.map((u) => u.method))].filter((m) => m !== 'base');
  const forgettingRows = baseUnit
    ? methods.map((method) => {
        const trained = units.filter((u) => u.method === method);
        // A dedicated method forgets as much as its adapters do on average: their rows are pooled.
        const all = trained.map((u) => forgetting(baseUnit.forgetting, u.forgetting));
        const rows = all.flatMap((f) => f.rows);
        return { method, rows, meanDrop: rows.length === 0 ? 0 : rows.reduce((s, r) => s + r.drop, 0) / rows.length };
      })
    : [];
  return { units, table, forgetting: forgettingRows };
}

/** The results as Markdown: one table of task x shots per method, then forgetting. */
export function studyMarkdown(result: StudyResult): string {
  const shots = [...new Set(result.table.map((r) => r.shots))].sort((a, b) => a - b);
  const tasks = [...new Set(result.table.map((r) => r.task))];
  const methods = STUDY_METHODS.filter((m) => result.table.some((r) => r.method === m));
  const lines = ['| task | method | ' + shots.map((k) => `k=${k}`).join(' | ') + ' |', '| --- | --- | ' + shots.map(() => '---').join(' | ') + ' |'];
  for (const task of tasks) {
    for (const method of methods) {
      const cells = shots.map((k) => result.table.find((r) => r.task === task && r.method === method && r.shots === k));
      if (cells.every((c) => !c)) continue;
      lines.push(`| ${task} | ${method} | ${cells.map((c) => (c ? c.score.toFixed(3) : '')).join(' | ')} |`);
    }
  }
  lines.push('', '| method | forgetting: mean drop | per task (k) |', '| --- | --- | --- |');
  for (const f of result.forgetting) {
    lines.push(`| ${f.method} | ${f.meanDrop.toFixed(3)} | ${f.rows.map((r) => `${r.task} (${r.shots}): ${r.before.toFixed(2)} → ${r.after.toFixed(2)}`).join('; ')} |`);
  }
  return lines.join('\n');
}
