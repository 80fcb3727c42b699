import { describe, expect, test } from 'vitest';
import { defaultRunConfig } from '../train/run-config';
import type { RunRecord, StepMetrics } from '../train/protocol';
import {
  compareLossSeries,
  compareShotSeries,
  ema,
  heatmapCellAt,
  heatmapMatrix,
  lossSeries,
  meanShotLoss,
  runSummary,
  lossGroups,
  shotCurveTasks,
  shotCurves,
  shotSeries,
  shotWindowSize,
  taskBreakdown,
  taskWindowSize,
  tokenLossColor,
  tokenLossView,
  viridis,
  windowLabel,
} from './charts';
import { formatBytes, formatLoss, formatLr, formatRate } from '../util/format';

function m(step: number, shotLoss: number[], taskLoss: Record<string, number> = {}, loss = shotLoss[0] ?? 1): StepMetrics {
  return { step, loss, lr: 1e-3, gradNorm: 1, tokensPerSecond: 500 * step, stepMs: 20, gpuBytes: 1024 * step, shotLoss, taskLoss };
}

function run(id: string, metrics: StepMetrics[]): RunRecord {
  return { id, name: id, createdAt: 0, config: defaultRunConfig(), status: 'done', metrics };
}

describe('smoothing', () => {
  test('ema starts at the first value and follows a constant', () => {
    expect(ema([4, 4, 4], 0.9)).toEqual([4, 4, 4]);
    const out = ema([0, 10], 0.5);
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo(10 * 0.5 / 0.75);
    expect(ema([1, 2, 3], 0)).toEqual([1, 2, 3]);
    expect(() => ema([1], 1)).toThrow();
  });

  test('lossSeries gives steps, raw and smoothed loss', () => {
    const [steps, raw, smooth] = lossSeries([m(1, [3]), m(2, [2]), m(3, [1])]);
    expect(steps).toEqual([1, 2, 3]);
    expect(raw).toEqual([3, 2, 1]);
    expect(smooth).toEqual([3, 2, 1]); // short runs are not smoothed
  });

  test('a diverged step (NaN loss) is a gap, not a broken chart', () => {
    const [, raw, smooth] = lossSeries([m(1, [], {}, NaN), m(2, [], {}, 2)]);
    expect(raw).toEqual([null, 2]);
    expect(smooth).toEqual([null, 2]);
    expect(compareLossSeries([run('a', [m(1, [], {}, Infinity), m(2, [], {}, 1)])])).toEqual([[1, 2], [null, 1]]);
  });
});

describe('in-context learning curve', () => {
  test('meanShotLoss averages each shot over the steps that have it', () => {
    const w = meanShotLoss([m(1, [4, 2]), m(2, [2, 1, 0.5]), m(3, [3])], 0, 3)!;
    expect(w.loss).toEqual([3, 1.5, 0.5]);
    expect([w.firstStep, w.lastStep]).toEqual([1, 3]);
    expect(meanShotLoss([], 0, 1)).toBeNull();
  });

  test('first and latest curves, padded to the longest', () => {
    const metrics = [m(1, [5, 4]), m(2, [3, 2, 1])];
    const curves = shotCurves(metrics);
    expect(curves.shots).toEqual([1, 2, 3]);
    expect(curves.first?.loss).toEqual([5, 4]);
    expect(curves.latest?.loss).toEqual([3, 2, 1]);
    expect(shotSeries(curves)).toEqual([[1, 2, 3], [3, 2, 1], [5, 4, null]]);
    expect(windowLabel('latest', curves.latest)).toBe('latest (step 2)');
    // With one step there is no separate latest curve.
    expect(shotCurves([m(1, [1])]).latest).toBeNull();
  });

  test('long runs average a window of steps at each end', () => {
    const metrics = Array.from({ length: 100 }, (_, i) => m(i + 1, [i < 5 ? 10 : i >= 95 ? 1 : 5]));
    const curves = shotCurves(metrics);
    expect(curves.first).toMatchObject({ loss: [10], firstStep: 1, lastStep: 5 });
    expect(curves.latest).toMatchObject({ loss: [1], firstStep: 96, lastStep: 100 });
  });
});

describe('heatmap', () => {
  test('one column per step when there are few steps', () => {
    const h = heatmapMatrix([m(1, [4, 3]), m(2, [2]), m(3, [1, 0.5, 0.25])]);
    expect(h.steps).toEqual([1, 2, 3]);
    expect(h.shots).toBe(3);
    expect(h.values).toEqual([[4, 3, null], [2, null, null], [1, 0.5, 0.25]]);
    expect([h.min, h.max]).toEqual([0.25, 4]);
  });

  test('buckets steps into at most maxColumns columns', () => {
    const metrics = Array.from({ length: 10 }, (_, i) => m(i + 1, [i + 1]));
    const h = heatmapMatrix(metrics, 4);
    expect(h.steps).toEqual([2, 5, 7, 10]);
    expect(h.values.map((c) => c[0])).toEqual([1.5, 4, 6.5, 9]);
  });

  test('the cell under a point: columns left to right, shot 1 at the bottom', () => {
    const h = heatmapMatrix([m(10, [4, 3]), m(20, [2, 1])]);
    expect(heatmapCellAt(h, 0.1, 0.9)).toEqual({ step: 10, shot: 1, loss: 4 });
    expect(heatmapCellAt(h, 0.1, 0.1)).toEqual({ step: 10, shot: 2, loss: 3 });
    expect(heatmapCellAt(h, 0.6, 0.1)).toEqual({ step: 20, shot: 2, loss: 1 });
    expect(heatmapCellAt(h, 1, 0.5)).toBeNull();
    expect(heatmapCellAt(h, -0.1, 0.5)).toBeNull();
    expect(heatmapCellAt(heatmapMatrix([]), 0.5, 0.5)).toBeNull();
  });

  test('empty metrics give an empty matrix with a usable range', () => {
    expect(heatmapMatrix([])).toEqual({ steps: [], shots: 0, values: [], min: 0, max: 1 });
  });

  test('viridis runs from purple to yellow and clamps', () => {
    expect(viridis(0)).toEqual([68, 1, 84]);
    expect(viridis(1)).toEqual([253, 231, 37]);
    expect(viridis(-3)).toEqual(viridis(0));
    expect(viridis(7)).toEqual(viridis(1));
    expect(viridis(NaN)).toEqual(viridis(0));
  });
});

describe('per-task breakdown', () => {
  test('each task takes its own last observations', () => {
    const rows = taskBreakdown([m(1, [], { sentiment: 4 }), m(2, [], { arithmetic: 3 }), m(3, [], { sentiment: 2 }), m(4, [], { sentiment: 1 })], 2);
    // At most 2 per window, and never more than half: sentiment's 3 observations give windows of 1.
    expect(rows).toEqual([
      { task: 'arithmetic', latest: 3, first: null, window: 1, observations: 1 },
      { task: 'sentiment', latest: 1, first: 4, window: 1, observations: 3 },
    ]);
  });
});

describe('token loss view', () => {
  test('scales colours by the largest loss and averages the targets', () => {
    const view = tokenLossView({
      step: 5,
      tokens: [{ text: 'x', loss: null, shot: null }, { text: 'a', loss: 2, shot: 0 }, { text: 'b', loss: 4, shot: 1 }],
    });
    expect(view.scaleMax).toBe(4);
    expect(view.meanTargetLoss).toBe(3);
    expect(tokenLossColor(0, 4)).toBe('hsl(130 75% 50% / 0.45)');
    expect(tokenLossColor(4, 4)).toBe('hsl(0 75% 50% / 0.45)');
    expect(tokenLossView({ step: 1, tokens: [] })).toMatchObject({ scaleMax: 1, meanTargetLoss: null });
  });
});

describe('summaries and comparison', () => {
  test('runSummary', () => {
    const s = runSummary(run('a', [m(1, [4, 3], {}, 3.5), m(2, [2, 1], {}, 1.5)]));
    expect(s).toMatchObject({ stepsDone: 2, lastLoss: 1.5, finalLoss: 1.5, meanShotLoss: 1.5, firstShotLoss: 2, lastShotLoss: 1, tokensPerSecond: 1000, gpuBytes: 2048 });
    expect(runSummary(run('empty', []))).toMatchObject({ stepsDone: 0, lastLoss: null, finalLoss: null, meanShotLoss: null });
  });

  test('loss curves of several runs share one step axis', () => {
    const data = compareLossSeries([run('a', [m(1, [3]), m(2, [2])]), run('b', [m(2, [5]), m(4, [4])])]);
    expect(data).toEqual([[1, 2, 4], [3, 2, null], [null, 5, 4]]);
  });

  test('shot curves of several runs share one shot axis', () => {
    const data = compareShotSeries([run('a', [m(1, [3, 2])]), run('b', [m(1, [5, 4, 3])]), run('c', [])]);
    expect(data).toEqual([[1, 2, 3], [3, 2, null], [5, 4, 3], [null, null, null]]);
  });
});

describe('format', () => {
  test('numbers read well', () => {
    expect(formatBytes(3 * 1024 * 1024)).toBe('3 MiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(null)).toBe('–');
    expect(formatLoss(2.302585)).toBe('2.303');
    expect(formatLoss(undefined)).toBe('–');
    expect(formatRate(12345)).toBe('12.3k tok/s');
    expect(formatRate(950.4)).toBe('950 tok/s');
    expect(formatLr(3e-4)).toBe('3e-4');
    expect(formatLr(0.001)).toBe('0.001');
  });
});

describe('first and latest windows', () => {
  test('never overlap, on short and long runs, and grow with the run up to 10 steps', () => {
    expect([0, 1, 2, 3, 4, 5, 8, 10, 20, 100, 200, 1000].map(shotWindowSize)).toEqual([0, 1, 1, 1, 2, 2, 3, 3, 3, 5, 10, 10]);
    for (let n = 0; n <= 600; n++) {
      const w = shotWindowSize(n);
      expect(n < 2 ? w === n : 2 * w <= n && w >= 1 && w <= 10).toBe(true);
      const metrics = Array.from({ length: n }, (_, i) => m(i + 1, [i + 1]));
      const curves = shotCurves(metrics);
      if (n === 0) expect(curves.first).toBeNull();
      if (n === 1) expect([curves.first?.lastStep, curves.latest]).toEqual([1, null]);
      if (n >= 2) expect(curves.first!.lastStep).toBeLessThan(curves.latest!.firstStep);
    }
    for (let obs = 2; obs <= 40; obs++) expect(2 * taskWindowSize(obs)).toBeLessThanOrEqual(obs);
    expect([taskWindowSize(0), taskWindowSize(1), taskWindowSize(3), taskWindowSize(10), taskWindowSize(99)]).toEqual([0, 1, 1, 5, 5]);
  });

  test('a short run whose task loss fell shows it fall (the issue: 10 steps, 3.89 -> 3.22)', () => {
    const losses = [3.89, 3.8, 3.74, 3.66, 3.6, 3.51, 3.44, 3.36, 3.3, 3.22];
    const rows = taskBreakdown(losses.map((loss, i) => m(i + 1, [loss], { sentiment: loss })));
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row.window).toBe(5);
    expect(row.first).toBeCloseTo((3.89 + 3.8 + 3.74 + 3.66 + 3.6) / 5);
    expect(row.latest).toBeCloseTo((3.51 + 3.44 + 3.36 + 3.3 + 3.22) / 5);
    expect(row.latest).toBeLessThan(row.first!);
    // 4 observations: 2 and 2; a long run: the first and last 5.
    expect(taskBreakdown(losses.slice(0, 4).map((loss, i) => m(i + 1, [], { t: loss })))[0]).toMatchObject({ window: 2, first: (3.89 + 3.8) / 2, latest: (3.74 + 3.66) / 2 });
    const long = taskBreakdown(Array.from({ length: 300 }, (_, i) => m(i + 1, [], { t: i < 5 ? 9 : i >= 295 ? 1 : 5 })))[0];
    expect(long).toMatchObject({ window: 5, first: 9, latest: 1, observations: 300 });
  });

  test('per-task curves take the steps that had the task', () => {
    const step = (n: number, perTask: Record<string, number[]>): StepMetrics => ({ ...m(n, [0]), taskShotLoss: perTask });
    const metrics = [step(1, { a: [4, 3] }), step(2, { b: [9] }), step(3, { a: [2, 1], b: [8] }), step(4, { a: [1, 0.5] }), m(5, [7])];
    expect(shotCurveTasks(metrics)).toEqual(['a', 'b']);
    const a = shotCurves(metrics, 'a');
    expect(a).toMatchObject({ shots: [1, 2], window: 1, first: { loss: [4, 3], firstStep: 1 }, latest: { loss: [1, 0.5], firstStep: 4 } });
    expect(shotCurves(metrics, 'b')).toMatchObject({ shots: [1], first: { loss: [9] }, latest: { loss: [8], lastStep: 3 } });
    expect(shotCurves(metrics, 'none')).toMatchObject({ shots: [], first: null, latest: null });
  });
});

describe('comparing like with like', () => {
  test('runs are grouped by what their training loss averages', () => {
    const withObjective = (id: string, objective: RunRecord['config']['objective']) => ({ ...run(id, []), config: { ...defaultRunConfig(), objective } });
    const groups = lossGroups([withObjective('a', 'manyicl'), withObjective('b', 'last-answer'), withObjective('c', 'dedicated'), withObjective('d', 'zero-shot')]);
    expect(groups.map((g) => [g.kind, g.runs.map((r) => r.id)])).toEqual([
      ['every-answer', ['a', 'c', 'd']],
      ['last-answer', ['b']],
    ]);
  });
});
