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
