import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { runSummary } from '../store/charts';
import { CompareRuns } from './CompareView';
import { fixtureMetrics, fixtureRun } from './runs.testing';

describe('CompareRuns', () => {
  test('asks for two runs', () => {
    const html = renderToStaticMarkup(<CompareRuns runs={[fixtureRun()]} onClear={() => {}} />);
    expect(html).toContain('data-testid="compare"');
    expect(html).toContain('Tick two or more runs');
    expect(html).not.toContain('compare-loss');
  });

  test('overlays two runs and tabulates their final and mean shot losses', () => {
    const a = fixtureRun();
    const b = fixtureRun({ id: 'run-b', name: 'last-answer · full #1', metrics: fixtureMetrics(40) });
    const html = renderToStaticMarkup(<CompareRuns runs={[a, b]} onClear={() => {}} />);
    expect(html).toContain('data-testid="compare-loss"');
    expect(html).toContain('data-testid="compare-shots"');
    for (const run of [a, b]) {
      const s = runSummary(run);
      expect(html).toContain(`<tr data-run-id="${run.id}">`);
      expect(html).toContain(`data-testid="compare-final-loss">${s.finalLoss!.toPrecision(4)}<`);
      expect(html).toContain(`data-testid="compare-mean-shot-loss">${s.meanShotLoss!.toPrecision(4)}<`);
    }
  });
});

describe('like with like', () => {
  test('last-answer and every-answer training losses get separate charts, and the table says which each is', () => {
    const a = fixtureRun();
    const b = fixtureRun({ id: 'run-b', name: 'la', metrics: fixtureMetrics(40), config: { ...a.config, objective: 'last-answer' } });
    const html = renderToStaticMarkup(<CompareRuns runs={[a, b]} onClear={() => {}} />);
    expect(html).not.toContain('data-testid="compare-loss"');
    expect(html).toContain('data-testid="compare-loss-every-answer"');
    expect(html).toContain('data-testid="compare-loss-last-answer"');
    expect(html).toContain('Training loss over the last answer');
    expect(html).toContain('data-testid="compare-mixed"');
    expect(html).toMatch(/data-testid="compare-final-loss">[\d.]+<span class="muted small-text"> \(last answer\)<\/span>/);
    // One objective: one chart, no note.
    const same = renderToStaticMarkup(<CompareRuns runs={[a, { ...b, config: a.config }]} onClear={() => {}} />);
    expect(same).toContain('data-testid="compare-loss"');
    expect(same).not.toContain('compare-mixed');
  });
});
