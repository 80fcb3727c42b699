import { useState } from 'react';
import './ExperimentsList.css';
import { runSummary } from '../store/charts';
import { formatLoss, formatTime } from '../util/format';
import { runData, stepsDone, useRunsStore } from '../store/runs';
import type { RunRecord } from '../train/protocol';
import { newRunFrom } from './TrainingDashboard';

/** Every run, wired to the runs store. */
export function ExperimentsList() {
  const runs = useRunsStore((s) => s.runs);
  const loaded = useRunsStore((s) => s.loaded);
  const loadError = useRunsStore((s) => s.loadError);
  const selectedId = useRunsStore((s) => s.selectedId);
  const compareIds = useRunsStore((s) => s.compareIds);
  const activeId = useRunsStore((s) => s.activeId);
  const actions = useRunsStore.getState();
  return (
    <ExperimentsTable
      runs={runs}
      loaded={loaded}
      loadError={loadError}
      selectedId={selectedId}
      compareIds={compareIds}
      activeId={activeId}
      onSelect={(id) => actions.selectRun(id)}
      onToggleCompare={(id) => actions.toggleCompare(id)}
      onDelete={(id) => void actions.deleteRun(id)}
      onNewRunFrom={(run) => newRunFrom(run)}
    />
  );
}

export interface ExperimentsTableProps {
  runs: RunRecord[];
  loaded: boolean;
  loadError: string | null;
  selectedId: string | null;
  compareIds: string[];
  activeId: string | null;
  onSelect(id: string): void;
  onToggleCompare(id: string): void;
  onDelete(id: string): void;
  /** Loads the run's settings and data into the setup form. */
  onNewRunFrom?(run: RunRecord): void;
}

export function ExperimentsTable(props: ExperimentsTableProps) {
  const { runs } = props;
  return (
    <section className="panel" data-testid="experiments" aria-labelledby="experiments-title">
      <div className="panel-head">
        <h2 className="panel-title" id="experiments-title">
          Experiments <span className="count">{runs.length}</span>
        </h2>
        {props.compareIds.length > 0 && <span className="muted small-text">{props.compareIds.length} ticked for comparison</span>}
      </div>
      {props.loadError && (
        <p className="alert alert-error" role="alert">
          {props.loadError}
        </p>
      )}
      {!props.loaded ? (
        <p className="muted">Reading saved runs…</p>
      ) : runs.length === 0 ? (
        <p className="muted">No runs yet. Runs you create are kept in this browser, with their metrics, across reloads.</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table runs-table">
            <thead>
              <tr>
                <th scope="col" className="check-col">
                  <span className="visually-hidden">Compare</span>
                  <span aria-hidden="true">⇄</span>
                </th>
                <th scope="col">Name</th>
                <th scope="col">Objective</th>
                <th scope="col">Mode</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Steps
                </th>
                <th scope="col" className="num">
                  Loss
                </th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <RunRow
                  key={run.id}
                  run={run}
                  selected={run.id === props.selectedId}
                  compared={props.compareIds.includes(run.id)}
                  active={run.id === props.activeId}
                  onSelect={() => props.onSelect(run.id)}
                  onToggleCompare={() => props.onToggleCompare(run.id)}
                  onDelete={() => props.onDelete(run.id)}
                  onNewRunFrom={props.onNewRunFrom ? () => props.onNewRunFrom!(run) : undefined}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface RunRowProps {
  run: RunRecord;
  selected: boolean;
  compared: boolean;
  active: boolean;
  onSelect(): void;
  onToggleCompare(): void;
  onDelete(): void;
  onNewRunFrom?(): void;
}

function RunRow({ run, selected, compared, active, onSelect, onToggleCompare, onDelete, onNewRunFrom }: RunRowProps) {
  const [confirming, setConfirming] = useState(false);
  const lastLoss = runSummary(run).lastLoss;
  return (
    <tr className={selected ? 'selected' : undefined} data-run-id={run.id}>
      <td className="check-col">
        <input type="checkbox" checked={compared} onChange={onToggleCompare} aria-label={`Compare ${run.name}`} />
      </td>
      <td>
        <button type="button" className="link-button run-link" onClick={onSelect} aria-current={selected ? 'true' : undefined}>
          {run.name}
        </button>
        <span className="run-data muted small-text" data-testid="run-data">
          {runData(run.config)}
        </span>
      </td>
      <td>{run.config.objective}</td>
      <td>{run.config.mode}</td>
      <td>
        <span className={`status-badge status-${run.status}`}>
          {active && run.status === 'running' && <span className="status-dot status-dot-running" aria-hidden="true" />}
          {run.status}
        </span>
      </td>
      <td className="num">
        {stepsDone(run)}/{run.config.steps}
      </td>
      <td className="num">{formatLoss(lastLoss)}</td>
      <td className="nowrap muted">{formatTime(run.createdAt)}</td>
      <td className="nowrap actions-col">
        {onNewRunFrom && !confirming && (
          <>
            <button type="button" className="link-button" onClick={onNewRunFrom} aria-label={`New run from ${run.name}`} data-testid="new-run-from">
              New run
            </button>{' '}
          </>
        )}
        {confirming ? (
          <>
            <button type="button" className="link-button danger" onClick={onDelete} aria-label={`Really delete ${run.name}`}>
              Delete
            </button>{' '}
            <button type="button" className="link-button" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" className="link-button muted" onClick={() => setConfirming(true)} aria-label={`Delete ${run.name}`}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}
