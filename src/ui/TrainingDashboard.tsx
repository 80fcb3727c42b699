import { useMemo, useState, type FormEvent } from 'react';
import { heatmapMatrix, lossSeries, runSummary, shotCurveTasks, shotCurves, shotSeries, taskBreakdown, windowLabel } from '../store/charts';
import { formatBytes, formatLoss, formatLr, formatRate } from '../util/format';
import { type RunProgress, runControls, runMeta, selectedRun, statusLine, useRunsStore } from '../store/runs';
import { BUILTIN_TASK_INFO, runConfigJson, useRunSetupStore } from '../store/run-setup';
import { type RunRecord } from '../train/protocol';
import { Heatmap } from './Heatmap';
import { TokenLoss } from './TokenLoss';
import { UPlotChart } from './UPlotChart';
import './TrainingDashboard.css';

/** The selected run's dashboard, wired to the runs store. */
export function TrainingDashboard() {
  const run = useRunsStore(selectedRun);
  const activeId = useRunsStore((s) => s.activeId);
  const elsewhere = useRunsStore((s) => (run ? s.elsewhere.includes(run.id) : false));
  const request = useRunsStore((s) => s.request);
  const progress = useRunsStore((s) => s.progress);
  const notice = useRunsStore((s) => s.notice);
  const actions = useRunsStore.getState();
  if (!run) {
    return (
      <section className="panel dashboard" aria-label="Training dashboard">
        <h2 className="panel-title">Training</h2>
        <p className="muted">No run selected. Set up a run on the left and create it; it shows here.</p>
      </section>
    );
  }
  return (
    <RunDashboard
      run={run}
      activeId={activeId}
      elsewhere={elsewhere}
      request={request}
      progress={progress}
      notice={notice}
      onStart={() => void actions.startRun(run.id)}
      onPause={() => void actions.pauseRun(run.id)}
      onResume={() => void actions.resumeRun(run.id)}
      onStop={() => void actions.stopRun(run.id)}
      onRename={(name) => actions.renameRun(run.id, name)}
      onDismissNotice={() => actions.dismissNotice()}
    />
  );
}

export interface RunDashboardProps {
  run: RunRecord;
  activeId: string | null;
  /** Another tab trains this run. */
  elsewhere?: boolean;
  request: 'pause' | 'stop' | null;
  progress: RunProgress | null;
  notice: string | null;
  onStart(): void;
  onPause(): void;
  onResume(): void;
  onStop(): void;
  onRename(name: string): void;
  onDismissNotice(): void;
}

export function RunDashboard(props: RunDashboardProps) {
  const { run, activeId, request, progress, notice } = props;
  const controls = runControls(run, activeId, props.elsewhere);
  const summary = useMemo(() => runSummary(run), [run]);
  const last = run.metrics[run.metrics.length - 1];
  const loading = run.status === 'loading' && progress?.runId === run.id ? progress : null;

  return (
    <section className="panel dashboard" aria-labelledby="dashboard-title">
      <div className="dashboard-head">
        <div className="dashboard-title-block">
          <RunName name={run.name} onRename={props.onRename} />
          <p className="muted run-meta">{runMeta(run)}</p>
        </div>
        <div className="run-controls" role="group" aria-label="Run controls">
          {props.elsewhere && (
            <span className="muted" data-testid="run-elsewhere">
              Training in another tab
            </span>
          )}
          {controls.start && (
            <button type="button" className="button" data-testid="run-start" onClick={props.onStart}>
              {controls.startLabel}
            </button>
          )}
          {controls.pause && (
            <button type="button" className="button button-secondary" data-testid="run-pause" onClick={props.onPause} disabled={request !== null}>
              {request === 'pause' ? 'Pausing…' : 'Pause'}
            </button>
          )}
          {controls.resume && (
            <button type="button" className="button" data-testid="run-resume" onClick={props.onResume}>
              Resume
            </button>
          )}
          {controls.stop && (
            <button type="button" className="button button-danger" data-testid="run-stop" onClick={props.onStop} disabled={request === 'stop'}>
              {request === 'stop' ? 'Stopping…' : 'Stop'}
            </button>
          )}
        </div>
      </div>

      <p className={`run-status status-${run.status}`} role="status">
        <span className={`status-dot status-dot-${run.status}`} aria-hidden="true" />
        <span data-testid="run-status">{statusLine(run)}</span>
        {run.checkpointStep !== undefined && <span className="muted run-checkpoint">checkpoint at step {run.checkpointStep}</span>}
      </p>
      <RunConfigActions run={run} />
      {loading && (
        <div className="progress" aria-label={`Loading the ${loading.label}`}>
          <progress value={loading.total > 0 ? loading.done : undefined} max={loading.total > 0 ? loading.total : undefined} />
          <span className="muted small-text">
            Loading the {loading.label}
            {loading.total > 0 ? ` · ${formatBytes(loading.done)} of ${formatBytes(loading.total)}` : ''}
          </span>
        </div>
      )}
      {run.status === 'error' && run.error && (
        <p className="alert alert-error" role="alert" data-testid="run-error">
          {run.error}
        </p>
      )}
      {notice && (
        <p className="alert" role="alert">
          {notice}{' '}
          <button type="button" className="link-button" onClick={props.onDismissNotice}>
            Dismiss
          </button>
        </p>
      )}

      <dl className="stats">
        <div className="stat">
          <dt>Loss</dt>
          <dd data-testid="last-loss">{formatLoss(summary.lastLoss)}</dd>
        </div>
        <div className="stat stat-wide" data-testid="throughput">
          <dt>Tokens/s · GPU memory</dt>
          <dd>
            {formatRate(summary.tokensPerSecond)} <span className="muted">·</span> {formatBytes(summary.gpuBytes)}
          </dd>
        </div>
        <div className="stat">
          <dt>Learning rate</dt>
          <dd>{last ? formatLr(last.lr) : '–'}</dd>
        </div>
        <div className="stat">
          <dt>Grad norm · step</dt>
          <dd>{last ? `${last.gradNorm.toPrecision(3)} · ${Math.round(last.stepMs)} ms` : '–'}</dd>
        </div>
      </dl>

      {/* Keyed by run: a new run's empty charts never keep the axes of the run shown before. */}
      <RunCharts key={run.id} run={run} />
    </section>
  );
}

function RunName({ name, onRename }: { name: string; onRename(name: string): void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(name);
  if (!editing) {
    return (
      <h2 className="panel-title run-name" id="dashboard-title">
        {name}
        <button
          type="button"
          className="link-button rename-button"
          onClick={() => {
            setDraft(name);
            setEditing(true);
          }}
        >
          Rename
        </button>
      </h2>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onRename(draft);
    setEditing(false);
  };
  return (
    <form className="rename-form" onSubmit={submit}>
      <label className="visually-hidden" htmlFor="run-name-input">
        Run name
      </label>
      <input id="run-name-input" className="input" value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
      <button type="submit" className="button">
        Save
      </button>
      <button type="button" className="button button-secondary" onClick={() => setEditing(false)}>
        Cancel
      </button>
      <h2 className="visually-hidden" id="dashboard-title">
        {name}
      </h2>
    </form>
  );
}

const LOSS_SERIES = [
  { label: 'loss', color: 'rgba(47, 91, 211, 0.35)', width: 1 },
  { label: 'smoothed', color: '#2f5bd3', width: 2 },
];

function RunCharts({ run }: { run: RunRecord }) {
  const metrics = run.metrics;
  const [curveTask, setCurveTask] = useState<string>('');
  const loss = useMemo(() => lossSeries(metrics), [metrics]);
  const curveTasks = useMemo(() => shotCurveTasks(metrics), [metrics]);
  const curves = useMemo(() => shotCurves(metrics, curveTask || undefined), [metrics, curveTask]);
  const shots = useMemo(() => shotSeries(curves), [curves]);
  const heatmap = useMemo(() => heatmapMatrix(metrics), [metrics]);
  const tasks = useMemo(() => taskBreakdown(metrics), [metrics]);
  const shotLabels = [
    { label: windowLabel('latest', curves.latest), color: '#e07b00', points: true },
    { label: windowLabel('first', curves.first), color: '#8b94a5', dash: [5, 4], points: true },
  ];
  return (
    <div className="charts">
      <div className="card chart-card">
        <UPlotChart data={loss} series={LOSS_SERIES} xLabel="step" yLabel="loss" title="Training loss" testId="chart-loss" integerX />
      </div>
      <div className="card chart-card">
        {curveTasks.length > 1 && (
          <label className="curve-task small-text">
            <span className="muted">In-context curve of </span>
            <select className="input input-small" value={curveTask} onChange={(e) => setCurveTask(e.target.value)} data-testid="curve-task">
              <option value="">every task</option>
              {curveTasks.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        )}
        <UPlotChart
          key={curveTask}
          data={shots}
          series={shotLabels}
          xLabel="shot k"
          yLabel="loss of answer k"
          title={curveTask ? `In-context learning curve: ${curveTask}` : 'In-context learning curve'}
          testId="chart-shots"
          integerX
        />
        <p className="muted small-text" data-testid="curve-note">
          {shotCurveNote(curves, run.config.contextLength)}
        </p>
      </div>
      <div className="card chart-card chart-wide">
        <Heatmap matrix={heatmap} />
      </div>
      <TaskBreakdown rows={tasks} />
      <TokenLoss sample={run.sample} renamedLabels={renamedLabelTasks(run.config)} />
    </div>
  );
}

/** The run's built-in tasks whose labels are renamed per context (label tasks, unless renameLabels is false). */
export function renamedLabelTasks(config: RunRecord['config']): string[] {
  if (config.renameLabels === false) return [];
  return config.tasks.map((t) => t.task).filter((task) => BUILTIN_TASK_INFO.find((info) => info.name === task)?.hasLabels);
}

/** What the in-context curve's two lines average, and why there is only a dot when contexts hold one answer. */
export function shotCurveNote(curves: ReturnType<typeof shotCurves>, contextLength: number): string {
  if (!curves.first) return 'Appears after the first step.';
  const steps = (n: number) => `${n} step${n === 1 ? '' : 's'}`;
  const windows = curves.latest
    ? `Each line is the mean of ${steps(curves.window)}: the first ${curves.window} and the latest ${curves.window}, never the same ones.`
    : 'One step so far: the latest line appears from the second step.';
  const single = curves.shots.length === 1 ? ` Each context of ${contextLength} tokens holds a single answer, so the curve is one point: lengthen the context to see the loss fall with k.` : '';
  return windows + single;
}

function TaskBreakdown({ rows }: { rows: ReturnType<typeof taskBreakdown> }) {
  const max = rows.reduce((m, r) => Math.max(m, r.latest, r.first ?? 0), 0) || 1;
  return (
    <section className="card" data-testid="task-breakdown" aria-labelledby="task-breakdown-title">
      <div className="card-head">
        <h3 className="card-title" id="task-breakdown-title">
          Loss per task
        </h3>
        <span className="muted small-text">latest vs first, each a mean over steps that had the task</span>
      </div>
      {rows.length === 0 ? (
        <p className="muted">Appears after the first step.</p>
      ) : (
        <table className="data-table task-table">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col" className="num">
                Latest
              </th>
              <th scope="col" className="bar-col">
                <span className="visually-hidden">Bar</span>
              </th>
              <th scope="col" className="num">
                First
              </th>
              <th scope="col" className="num">
                Steps averaged
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.task} data-task={row.task}>
                <td>{row.task}</td>
                <td className="num" data-testid="task-latest">{formatLoss(row.latest)}</td>
                <td className="bar-col" aria-hidden="true">
                  <span className="bar">
                    {row.first !== null && <span className="bar-first" style={{ width: `${(row.first / max) * 100}%` }} />}
                    <span className="bar-latest" style={{ width: `${(row.latest / max) * 100}%` }} />
                  </span>
                </td>
                <td className="num muted" data-testid="task-first">{formatLoss(row.first)}</td>
                <td className="num muted small-text" data-testid="task-window" title={`${row.observations} steps had ${row.task}`}>
                  {row.first === null ? '1 (no first yet)' : `${row.window} + ${row.window} of ${row.observations}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Loads a run's settings and data into the setup form, and brings the form into view. */
export function newRunFrom(run: RunRecord): void {
  useRunSetupStore.getState().loadConfig(run.config);
  document.getElementById('create-title')?.scrollIntoView({ block: 'center' });
}

/** The run's config as a file: copied, downloaded, or loaded into the setup form for a new run. */
function RunConfigActions({ run }: { run: RunRecord }) {
  const [copied, setCopied] = useState(false);
  const json = () => runConfigJson(run.config);
  const copy = async () => {
    await navigator.clipboard.writeText(json());
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  const download = () => {
    const url = URL.createObjectURL(new Blob([json()], { type: 'application/json' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${run.name.replace(/[^\w.-]+/g, '-')}.config.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };
  return (
    <p className="run-config-actions small-text" data-testid="run-config-actions">
      <span className="muted">Run config:</span>{' '}
      <button type="button" className="link-button" onClick={() => void copy()} data-testid="run-config-copy">
        {copied ? 'copied' : 'copy'}
      </button>
      {' · '}
      <button type="button" className="link-button" onClick={download} data-testid="run-config-download">
        download
      </button>
      {' · '}
      <button type="button" className="link-button" onClick={() => newRunFrom(run)} data-testid="run-config-reuse">
        new run from this one
      </button>
    </p>
  );
}
