// Chart data from run metrics: pure functions that turn StepMetrics into what the dashboard plots.
import type { RunRecord, StepMetrics, TokenLossSample } from '../train/protocol';

/** uPlot's aligned data: x values first, then one y array per series (null where a series has no point). */
export type SeriesData = [number[], ...(number | null)[][]];

/** Exponential moving average with bias correction, so the first points are not pulled towards 0. */
export function ema(values: readonly number[], smoothing: number): number[] {
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`smoothing must be in [0, 1), got ${smoothing}`);
  const out: number[] = [];
  let avg = 0;
  let weight = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(weight > 0 ? avg / weight : NaN);
      continue;
    }
    avg = smoothing * avg + (1 - smoothing) * v;
    weight = smoothing * weight + (1 - smoothing);
    out.push(avg / weight);
  }
  return out;
}

/** A smoothing factor that suits the number of points: none for a few, stronger for long runs. */
export function autoSmoothing(points: number): number {
  if (points < 20) return 0;
  return Math.min(0.95, 1 - 10 / points);
}

/** A value a chart can draw: a NaN or infinite loss (a diverged step) becomes a gap. */
function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Loss vs step: [steps, raw loss, smoothed loss]. */
export function lossSeries(metrics: readonly StepMetrics[]): SeriesData {
  const steps = metrics.map((m) => m.step);
  const loss = metrics.map((m) => m.loss);
  return [steps, loss.map(finiteOrNull), ema(loss, autoSmoothing(loss.length)).map(finiteOrNull)];
}

export interface ShotWindow {
  /** Mean loss of answer k (index k-1) over the window's steps; null where no step had a k-th answer. */
  loss: (number | null)[];
  firstStep: number;
  lastStep: number;
}

/**
 * Steps averaged for each of the "first" and "latest" shot curves of a run of `steps` steps: 5% of the run
 * (at least 3 steps, at most 10), so one noisy step does not decide a curve, and never more than half the run,
 * so the two windows never share a step. A run of one step has only a first window.
 */
export function shotWindowSize(steps: number): number {
  if (steps < 2) return Math.max(0, steps);
  const half = Math.floor(steps / 2);
  return Math.min(10, half, Math.max(1, Math.round(steps * 0.05), Math.min(3, half)));
}

/** The points of a shot curve: a step and its mean loss of answer k (index k-1). */
export type ShotPoint = Pick<StepMetrics, 'step' | 'shotLoss'>;

/** Mean per-shot loss over metrics[from, to). */
export function meanShotLoss(metrics: readonly ShotPoint[], from: number, to: number): ShotWindow | null {
  const slice = metrics.slice(Math.max(0, from), Math.max(0, to));
  if (slice.length === 0) return null;
  const sum: number[] = [];
  const count: number[] = [];
  for (const m of slice) {
    m.shotLoss.forEach((loss, k) => {
      if (!Number.isFinite(loss)) return;
      sum[k] = (sum[k] ?? 0) + loss;
      count[k] = (count[k] ?? 0) + 1;
    });
  }
  const loss = Array.from({ length: sum.length }, (_, k) => (count[k] ? sum[k] / count[k] : null));
  return { loss, firstStep: slice[0].step, lastStep: slice[slice.length - 1].step };
}

export interface ShotCurves {
  /** Shot numbers 1..K. */
  shots: number[];
  first: ShotWindow | null;
  latest: ShotWindow | null;
  /** Steps in each window (the same for both). */
  window: number;
}

/**
 * The in-context learning curve: loss of the k-th answer vs k, early in training and now. With `task`, the
 * curve of that task alone, from the steps whose contexts had it (runs recorded before per-task curves existed
 * have none).
 */
export function shotCurves(metrics: readonly StepMetrics[], task?: string): ShotCurves {
  const points: readonly ShotPoint[] =
    task === undefined
      ? metrics
      : metrics.flatMap((m) => (m.taskShotLoss?.[task] ? [{ step: m.step, shotLoss: m.taskShotLoss[task] }] : []));
  const window = shotWindowSize(points.length);
  const first = meanShotLoss(points, 0, window);
  const latest = points.length >= 2 ? meanShotLoss(points, points.length - window, points.length) : null;
  const shotCount = Math.max(first?.loss.length ?? 0, latest?.loss.length ?? 0);
  return { shots: Array.from({ length: shotCount }, (_, k) => k + 1), first, latest, window };
}

/** The tasks that have their own in-context curve in these metrics, sorted. */
export function shotCurveTasks(metrics: readonly StepMetrics[]): string[] {
  const tasks = new Set<string>();
  for (const m of metrics) for (const task of Object.keys(m.taskShotLoss ?? {})) tasks.add(task);
  return [...tasks].sort();
}

/** uPlot data for shotCurves: [shots, latest, first]. */
export function shotSeries(curves: ShotCurves): SeriesData {
  const pad = (w: ShotWindow | null) => curves.shots.map((_, k) => w?.loss[k] ?? null);
  return [curves.shots, pad(curves.latest), pad(curves.first)];
}

export function windowLabel(prefix: string, w: ShotWindow | null): string {
  if (!w) return prefix;
  return w.firstStep === w.lastStep ? `${prefix} (step ${w.firstStep})` : `${prefix} (steps ${w.firstStep}–${w.lastStep})`;
}

export interface HeatmapMatrix {
  /** One column per bucket of steps: the last step of the bucket. */
  steps: number[];
  /** Number of rows: shot indices 1..shots. */
  shots: number;
  /** values[column][shot]: the mean answer loss, or null. */
  values: (number | null)[][];
  min: number;
  max: number;
}

/** Step x shot-index matrix of answer loss; steps are bucketed so there are at most maxColumns columns. */
export function heatmapMatrix(metrics: readonly StepMetrics[], maxColumns = 200): HeatmapMatrix {
  const columns = Math.min(metrics.length, Math.max(1, maxColumns));
  const shots = metrics.reduce((n, m) => Math.max(n, m.shotLoss.length), 0);
  const steps: number[] = [];
  const values: (number | null)[][] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let c = 0; c < columns; c++) {
    const from = Math.floor((c * metrics.length) / columns);
    const to = Math.floor(((c + 1) * metrics.length) / columns);
    const bucket = meanShotLoss(metrics, from, to);
    if (!bucket) continue;
    const column = Array.from({ length: shots }, (_, k) => bucket.loss[k] ?? null);
    for (const v of column) {
      if (v === null) continue;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    steps.push(bucket.lastStep);
    values.push(column);
  }
  if (min > max) {
    min = 0;
    max = 1;
  }
  return { steps, shots, values, min, max };
}

export interface HeatmapCell {
  step: number;
  /** 1-based shot number. */
  shot: number;
  loss: number | null;
}

/** The cell under a point given as fractions of the plot area (x from the left, y from the top; shot 1 is at the bottom). */
export function heatmapCellAt(matrix: HeatmapMatrix, fx: number, fy: number): HeatmapCell | null {
  if (matrix.values.length === 0 || matrix.shots === 0) return null;
  if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) return null;
  const column = Math.floor(fx * matrix.values.length);
  const row = matrix.shots - 1 - Math.floor(fy * matrix.shots);
  return { step: matrix.steps[column], shot: row + 1, loss: matrix.values[column][row] };
}

export type Rgb = [number, number, number];

// Viridis at nine evenly spaced points: perceptually even and readable by colour-blind people.
const VIRIDIS: Rgb[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** Viridis colour of t in [0, 1] (clamped). */
export function viridis(t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  return [0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * f)) as Rgb;
}

export interface TaskLossRow {
  task: string;
  /** Mean of the task's last `window` observed losses. */
  latest: number;
  /** Mean of the task's first `window` observed losses; null with a single observation (nothing to compare). */
  first: number | null;
  /** Observations in each of the two means. */
  window: number;
  /** How many steps reported this task. */
  observations: number;
}

/** Observations averaged for the first and the latest loss of a task: up to `max`, never more than half of them. */
export function taskWindowSize(observations: number, max = 5): number {
  return observations < 2 ? observations : Math.max(1, Math.min(max, Math.floor(observations / 2)));
}

/**
 * Per-task answer loss. A step only reports the tasks its contexts came from, so each task's loss is taken
 * from the steps that saw it: the mean of its last observations, and of its first, in windows that never
 * overlap (see taskWindowSize), so a short run's two numbers are never means of the same losses.
 */
export function taskBreakdown(metrics: readonly StepMetrics[], maxWindow = 5): TaskLossRow[] {
  const seen = new Map<string, number[]>();
  for (const m of metrics) {
    for (const [task, loss] of Object.entries(m.taskLoss)) {
      if (!Number.isFinite(loss)) continue;
      let list = seen.get(task);
      if (!list) seen.set(task, (list = []));
      list.push(loss);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [...seen.entries()]
    .map(([task, losses]) => {
      const window = taskWindowSize(losses.length, maxWindow);
      return {
        task,
        latest: mean(losses.slice(-window)),
        first: losses.length >= 2 ? mean(losses.slice(0, window)) : null,
        window,
        observations: losses.length,
      };
    })
    .sort((a, b) => a.task.localeCompare(b.task));
}

export interface TokenLossView {
  tokens: { text: string; loss: number | null; shot: number | null }[];
  /** Upper end of the colour scale: the largest token loss in the sample (at least 1). */
  scaleMax: number;
  meanTargetLoss: number | null;
}

export function tokenLossView(sample: TokenLossSample): TokenLossView {
  let scaleMax = 1;
  let sum = 0;
  let count = 0;
  for (const t of sample.tokens) {
    if (t.loss === null || !Number.isFinite(t.loss)) continue;
    scaleMax = Math.max(scaleMax, t.loss);
    sum += t.loss;
    count++;
  }
  return { tokens: sample.tokens, scaleMax, meanTargetLoss: count > 0 ? sum / count : null };
}

/** Background colour of a target token: green at loss 0 through amber to red at scaleMax. */
export function tokenLossColor(loss: number, scaleMax: number): string {
  const t = Math.min(1, Math.max(0, loss / scaleMax));
  const hue = 130 * (1 - t); // 130 green -> 0 red
  return `hsl(${hue.toFixed(0)} 75% 50% / 0.45)`;
}

export interface RunSummary {
  stepsDone: number;
  lastLoss: number | null;
  /** Mean loss over the last few steps (less noisy than the last step alone). */
  finalLoss: number | null;
  /** Mean over shots of the latest per-shot curve. */
  meanShotLoss: number | null;
  firstShotLoss: number | null;
  lastShotLoss: number | null;
  tokensPerSecond: number | null;
  gpuBytes: number | null;
}

export function runSummary(record: RunRecord): RunSummary {
  const metrics = record.metrics;
  const last = metrics[metrics.length - 1];
  const window = shotWindowSize(metrics.length);
  const tail = metrics.slice(-window);
  const curve = meanShotLoss(metrics, metrics.length - window, metrics.length);
  const shotLosses = (curve?.loss ?? []).filter((v): v is number => v !== null);
  return {
    stepsDone: last?.step ?? 0,
    lastLoss: last ? last.loss : null,
    finalLoss: tail.length > 0 ? tail.reduce((a, m) => a + m.loss, 0) / tail.length : null,
    meanShotLoss: shotLosses.length > 0 ? shotLosses.reduce((a, b) => a + b, 0) / shotLosses.length : null,
    firstShotLoss: curve?.loss[0] ?? null,
    lastShotLoss: shotLosses.length > 0 ? shotLosses[shotLosses.length - 1] : null,
    tokensPerSecond: last ? last.tokensPerSecond : null,
    gpuBytes: last ? last.gpuBytes : null,
  };
}

/** Loss curves of several runs on one step axis (the union of their steps), smoothed when long. */
export function compareLossSeries(runs: readonly RunRecord[]): SeriesData {
  const steps = [...new Set(runs.flatMap((r) => r.metrics.map((m) => m.step)))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const series = runs.map((r) => {
    const smoothed = ema(r.metrics.map((m) => m.loss), autoSmoothing(r.metrics.length));
    const ys: (number | null)[] = Array(steps.length).fill(null);
    r.metrics.forEach((m, i) => (ys[index.get(m.step)!] = finiteOrNull(smoothed[i])));
    return ys;
  });
  return [steps, ...series];
}

/** What a run's training loss averages: every answer of its contexts, or only the last one (lossObjective). */
export type LossKind = 'every-answer' | 'last-answer';

export function lossKind(record: RunRecord): LossKind {
  return record.config.objective === 'last-answer' ? 'last-answer' : 'every-answer';
}

export const LOSS_KIND_LABELS: Record<LossKind, string> = {
  'every-answer': 'loss over every answer',
  'last-answer': 'loss over the last answer',
};

/**
 * Runs grouped by what their training loss averages, in the order of their first run: losses of different
 * groups average different tokens and are not plotted on one axis.
 */
export function lossGroups(runs: readonly RunRecord[]): { kind: LossKind; runs: RunRecord[] }[] {
  const groups = new Map<LossKind, RunRecord[]>();
  for (const r of runs) {
    const kind = lossKind(r);
    groups.set(kind, [...(groups.get(kind) ?? []), r]);
  }
  return [...groups.entries()].map(([kind, members]) => ({ kind, runs: members }));
}

/** The latest per-shot curve of several runs, on one shot axis. */
export function compareShotSeries(runs: readonly RunRecord[]): SeriesData {
  const curves = runs.map((r) => {
    const window = shotWindowSize(r.metrics.length);
    return meanShotLoss(r.metrics, r.metrics.length - window, r.metrics.length)?.loss ?? [];
  });
  const shotCount = curves.reduce((n, c) => Math.max(n, c.length), 0);
  const shots = Array.from({ length: shotCount }, (_, k) => k + 1);
  return [shots, ...curves.map((c) => shots.map((_, k) => c[k] ?? null))];
}

/** Distinct series colours (Okabe-Ito-like, readable for colour-blind people). */
export const SERIES_COLORS = ['#2f5bd3', '#e07b00', '#17956b', '#c2326b', '#7a4fd0', '#8a6d00', '#0090b8', '#5d6676'];

export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length];
}
