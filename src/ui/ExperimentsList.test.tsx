import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { ExperimentsTable, type ExperimentsTableProps } from './ExperimentsList';
import { fixtureRun } from './runs.testing';

function render(props: Partial<ExperimentsTableProps>): string {
  return renderToStaticMarkup(
    <ExperimentsTable
      runs={[]}
      loaded
      loadError={null}
      selectedId={null}
      compareIds={[]}
      activeId={null}
      onSelect={() => {}}
      onToggleCompare={() => {}}
      onDelete={() => {}}
      {...props}
    />,
  );
}

describe('ExperimentsTable', () => {
  test('lists runs with objective, mode, status, steps, loss and time', () => {
    const a = fixtureRun();
    const b = fixtureRun({ id: 'run-b', name: 'zero-shot · lora #1', status: 'done', metrics: [], config: { ...a.config, objective: 'zero-shot', mode: 'lora' } });
    const html = render({ runs: [a, b], selectedId: 'run-a', compareIds: ['run-b'] });
    expect(html).toContain('data-testid="experiments"');
    expect(html).toContain('<tr class="selected" data-run-id="run-a">');
    expect(html).toContain('manyicl · full #1');
    expect(html).toMatch(/data-run-id="run-b">.*zero-shot<\/td><td>lora<\/td>.*status-done">done<.*0\/100.*–/);
    expect(html).toMatch(/data-run-id="run-a">.*12\/100/);
    expect(html).toContain('2026-01-15 09:30');
    expect(html).toContain('<input type="checkbox" aria-label="Compare zero-shot · lora #1" checked=""/>');
    expect(html).toContain('1 ticked for comparison');
  });

  test('empty, loading and failed states', () => {
    expect(render({})).toContain('No runs yet');
    expect(render({ loaded: false })).toContain('Reading saved runs');
    expect(render({ loadError: 'Could not read the saved runs: blocked' })).toContain('blocked');
  });
});

describe('every run names its data, and any run can seed a new one', () => {
  test('the data under the name, and a "New run" button per run', () => {
    const a = fixtureRun({ config: { ...fixtureRun().config, datasets: [{ name: 'reviews', family: 'classification', examples: [], weight: 1 }] } });
    const withAction = render({ runs: [a], onNewRunFrom: () => {} });
    expect(withAction).toContain(`data-testid="run-data">${a.config.tasks.map((t) => t.task).join(', ')}, reviews (imported)</span>`);
    expect(withAction).toContain(`aria-label="New run from ${a.name}" data-testid="new-run-from">New run</button>`);
    expect(render({ runs: [a] })).not.toContain('new-run-from');
  });
});
