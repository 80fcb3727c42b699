import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import type { RunRecord } from '../train/protocol';
import { fixtureRun } from './runs.testing';
import { RunDashboard, type RunDashboardProps, renamedLabelTasks, shotCurveNote } from './TrainingDashboard';
import { TokenLoss } from './TokenLoss';
import { shotCurves } from '../store/charts';

const noop = () => {};

function render(run: RunRecord, props: Partial<RunDashboardProps> = {}): string {
  return renderToStaticMarkup(
    <RunDashboard
      run={run}
      activeId={null}
      request={null}
      progress={null}
      notice={null}
      onStart={noop}
      onPause={noop}
      onResume={noop}
      onStop={noop}
      onRename={noop}
      onDismissNotice={noop}
      {...props}
    />,
  );
}

describe('RunDashboard', () => {
  test('a running run: status, last loss, throughput, controls and every chart', () => {
    const run = fixtureRun();
    const html = render(run, { activeId: run.id });
    expect(html).toContain('data-testid="run-status"');
    expect(html).toMatch(/data-testid="run-status"[^>]*>.*running · step 12\/100/);
    expect(html).toContain(`data-testid="last-loss">${run.metrics[11].loss.toPrecision(4)}<`);
    expect(html).toMatch(/data-testid="throughput".*4,200 tok\/s.*48 MiB/);
    expect(html).toContain('data-testid="run-pause"');
    expect(html).toContain('data-testid="run-stop"');
    expect(html).not.toContain('data-testid="run-start"');
    expect(html).not.toContain('data-testid="run-resume"');
    for (const id of ['chart-loss', 'chart-shots', 'heatmap', 'task-breakdown', 'token-loss']) expect(html).toContain(`data-testid="${id}"`);
    expect(html).toContain('checkpoint at step 10');
  });

  test('the token view colours answer tokens by loss and greys the prompt', () => {
    const html = render(fixtureRun());
    expect(html).toContain('class="tok tok-prompt">in: good film\nout:<');
    expect(html).toMatch(/class="tok tok-target" style="background:hsl\(0 75% 50% \/ 0.45\)" title="shot 1 · loss 2.500" data-loss="2.5000">pos</);
    expect(html).toContain('↵\n</span>');
  });

  test('the per-task table lists each task with its latest loss', () => {
    const html = render(fixtureRun());
    expect(html).toContain('data-task="arithmetic"');
    expect(html).toContain('data-task="sentiment"');
  });

  test('an idle run offers Start; a stopped run with a checkpoint offers to continue', () => {
    expect(render(fixtureRun({ status: 'idle', metrics: [], checkpointStep: undefined, sample: undefined }))).toMatch(
      /data-testid="run-start"[^>]*>Start</,
    );
    const stopped = render(fixtureRun({ status: 'stopped' }));
    expect(stopped).toMatch(/data-testid="run-start"[^>]*>Continue from step 10</);
    expect(render(fixtureRun({ status: 'idle', metrics: [] }))).toContain('data-testid="last-loss">–<');
  });

  test('a paused run offers Resume and Stop; another run training blocks Start', () => {
    const paused = render(fixtureRun({ status: 'paused' }));
    expect(paused).toContain('data-testid="run-resume"');
    expect(paused).toContain('data-testid="run-stop"');
    expect(render(fixtureRun({ status: 'idle' }), { activeId: 'other' })).not.toContain('data-testid="run-start"');
  });

  test('a run another tab trains offers no controls, and says so', () => {
    const html = render(fixtureRun({ status: 'paused' }), { elsewhere: true });
    expect(html).toContain('data-testid="run-elsewhere">Training in another tab<');
    for (const button of ['run-start', 'run-resume', 'run-stop', 'run-pause']) expect(html).not.toContain(`data-testid="${button}"`);
    expect(render(fixtureRun({ status: 'paused' }))).not.toContain('run-elsewhere');
  });

  test('shows loading progress, errors and notices', () => {
    const loading = render(fixtureRun({ status: 'loading' }), { activeId: 'run-a', progress: { runId: 'run-a', label: 'model', done: 1024, total: 4096 } });
    expect(loading).toContain('Loading the model · 1 KiB of 4 KiB');
    const failed = render(fixtureRun({ status: 'error', error: 'GPU device lost' }), { notice: 'Another run is training.' });
    expect(failed).toContain('data-testid="run-error">GPU device lost<');
    expect(failed).toContain('Another run is training.');
  });
});

describe('the in-context curve says what it averages', () => {
  test('window sizes, one step, and a single answer per context', () => {
    const step = (n: number, shots: number[]) => ({ step: n, loss: 1, lr: 1e-3, gradNorm: 1, tokensPerSecond: 1, stepMs: 1, gpuBytes: 0, shotLoss: shots, taskLoss: {} });
    expect(shotCurveNote(shotCurves([]), 64)).toBe('Appears after the first step.');
    expect(shotCurveNote(shotCurves([step(1, [3, 2])]), 64)).toBe('One step so far: the latest line appears from the second step.');
    const eight = Array.from({ length: 8 }, (_, i) => step(i + 1, [3 - i * 0.1]));
    expect(shotCurveNote(shotCurves(eight), 32)).toBe(
      'Each line is the mean of 3 steps: the first 3 and the latest 3, never the same ones. Each context of 32 tokens holds a single answer, so the curve is one point: lengthen the context to see the loss fall with k.',
    );
  });
});

describe('renamed labels are explained where the trained context shows', () => {
  test('label tasks of the run, unless it keeps the real labels', () => {
    const config = fixtureRun().config;
    expect(renamedLabelTasks({ ...config, tasks: [{ task: 'sentiment', weight: 1 }, { task: 'arithmetic', weight: 1 }, { task: 'nli', weight: 1 }] })).toEqual(['sentiment', 'nli']);
    expect(renamedLabelTasks({ ...config, tasks: [{ task: 'nli', weight: 1 }], renameLabels: false })).toEqual([]);
    const sample = { step: 5, tokens: [{ text: 'label:', loss: null, shot: 0 }, { text: ' kite', loss: 1.2, shot: 0 }] };
    const html = renderToStaticMarkup(<TokenLoss sample={sample} renamedLabels={['nli']} />);
    expect(html).toContain('The labels of nli go by random words, new in every context');
    expect(renderToStaticMarkup(<TokenLoss sample={sample} />)).not.toContain('token-loss-labels');
  });
});
