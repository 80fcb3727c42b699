import { useMemo } from 'react';
import { LOSS_KIND_LABELS, compareLossSeries, compareShotSeries, lossGroups, lossKind, runSummary, seriesColor } from '../store/charts';
import { formatLoss } from '../util/format';
import { comparedRuns, useRunsStore } from '../store/runs';
import type { RunRecord } from '../train/protocol';
import { UPlotChart } from './UPlotChart';
import './CompareView.css';

/** The runs ticked for comparison, wired to the runs store. */
export function CompareView() {
  const runs = useRunsStore((s) => s.runs);
  const compareIds = useRunsStore((s) => s.compareIds);
  const compared = useMemo(() => comparedRuns({ runs, compareIds }), [runs, compareIds]);
  return <CompareRuns runs={compared} onClear={() => useRunsStore.getState().setCompare([])} />;
}

export function CompareRuns({ runs, onClear }: { runs: RunRecord[]; onClear(): void }) {
  // Training losses average different tokens per objective: one chart per kind, never one axis for both.
  const groups = useMemo(() => lossGroups(runs).map((g) => ({ ...g, data: compareLossSeries(g.runs) })), [runs]);
  const shots = useMemo(() => compareShotSeries(runs), [runs]);
  const colorOf = (run: RunRecord) => seriesColor(runs.indexOf(run));
  const series = runs.map((r, i) => ({ label: `${r.name} (${r.config.objective})`, color: seriesColor(i) }));
  const shotSeriesStyle = series.map((s) => ({ ...s, points: true }));
  const mixed = groups.length > 1;
  return (
    <section className="panel" data-testid="compare" aria-labelledby="compare-title">
      <div className="panel-head">
        <h2 className="panel-title" id="compare-title">
          Compare
        </h2>
        {runs.length > 0 && (
          <button type="button" className="link-button" onClick={onClear}>
            Clear
          </button>
        )}
      </div>
      {runs.length < 2 ? (
        <p className="muted">
          Tick two or more runs in the experiments list to compare them: their loss curves and in-context learning curves
          overlaid, and their final losses side by side.
        </p>
      ) : (
        <>
          <div className="charts">
            {groups.map((g) => (
              <div className="card chart-card" key={g.kind}>
                <UPlotChart
                  data={g.data}
                  series={g.runs.map((r) => ({ label: `${r.name} (${r.config.objective})`, color: colorOf(r) }))}
                  xLabel="step"
                  yLabel={`${LOSS_KIND_LABELS[g.kind]} (smoothed)`}
                  title={mixed ? `Training ${LOSS_KIND_LABELS[g.kind]}` : 'Training loss'}
                  testId={mixed ? `compare-loss-${g.kind}` : 'compare-loss'}
                  integerX
                />
              </div>
            ))}
            <div className="card chart-card">
              <UPlotChart
                data={shots}
                series={shotSeriesStyle}
                xLabel="shot k"
                yLabel="loss of answer k"
                title="In-context learning curve (latest)"
                testId="compare-shots"
                integerX
              />
            </div>
          </div>
          <div className="table-wrap">
            <table className="data-table compare-table">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Objective</th>
                  <th scope="col">Mode</th>
                  <th scope="col" className="num">
                    Steps
                  </th>
                  <th scope="col" className="num">
                    Final training loss
                  </th>
                  <th scope="col" className="num">
                    Mean shot loss
                  </th>
                  <th scope="col" className="num">
                    Shot 1
                  </th>
                  <th scope="col" className="num">
                    Last shot
                  </th>
                </tr>
              </thead>
              <tbody>
                {runs.map((run, i) => {
                  const s = runSummary(run);
                  return (
                    <tr key={run.id} data-run-id={run.id}>
                      <th scope="row">
                        <span className="swatch" style={{ background: seriesColor(i) }} aria-hidden="true" />
                        {run.name}
                      </th>
                      <td>{run.config.objective}</td>
                      <td>{run.config.mode}</td>
                      <td className="num">{s.stepsDone}</td>
                      <td className="num" data-testid="compare-final-loss">
                        {formatLoss(s.finalLoss)}
                        {mixed && <span className="muted small-text"> ({lossKind(run) === 'last-answer' ? 'last answer' : 'every answer'})</span>}
                      </td>
                      <td className="num" data-testid="compare-mean-shot-loss">
                        {formatLoss(s.meanShotLoss)}
                      </td>
                      <td className="num">{formatLoss(s.firstShotLoss)}</td>
                      <td className="num">{formatLoss(s.lastShotLoss)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {mixed && (
            <p className="alert" data-testid="compare-mixed">
              These runs train different objectives: a last-answer run's training loss averages only the final answer of
              each context, the others' every answer, so their training losses are drawn on separate charts and are not
              comparable. The per-shot curves measure every answer the same way for all of them; to compare the methods
              on held-out examples, run the study.
            </p>
          )}
          <p className="muted small-text">
            Final training loss: mean training loss over the last steps. Mean shot loss: the latest per-shot losses averaged over
            the shot positions. Shot 1 is the zero-shot answer of a context; the last shot has seen the most examples.
          </p>
        </>
      )}
    </section>
  );
}
