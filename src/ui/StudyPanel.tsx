import { useEffect, useMemo, useRef, useState } from 'react';
import { seriesColor } from '../store/charts';
import { BUILTIN_TASK_INFO } from '../store/run-setup';
import {
  STUDY_METHODS, type StudyRecord, type StudyResult, type StudySettings, studyCsv, studyCurve, studyEta, studyResult, useStudyStore,
} from '../store/study';
import { UPlotChart } from './UPlotChart';
import './StudyPanel.css';

const METHOD_LABELS: Record<(typeof STUDY_METHODS)[number], string> = {
  base: 'Base (ICL only)', 'zero-shot': 'Zero-shot FT', 'few-shot': 'Few-shot FT', manyicl: 'ManyICL', dedicated: 'Dedicated',
};

/** The study, wired to its store: one click runs the paper's comparison on the run setup's model and mixture. */
export function StudyPanel() {
  const settings = useStudyStore((s) => s.settings);
  const study = useStudyStore((s) => s.study);
  const timing = useStudyStore((s) => s.timing);
  const log = useStudyStore((s) => s.log);
  const notice = useStudyStore((s) => s.notice);
  const { setSettings, start, resume } = useStudyStore.getState();
  return (
    <section className="panel" data-testid="study" aria-labelledby="study-title">
      <div className="panel-head">
        <h2 className="panel-title" id="study-title">
          Study: ManyICL against the baselines
        </h2>
      </div>
      <p className="muted">
        Trains zero-shot, few-shot (last answer), ManyICL and one dedicated adapter per task on the run setup's model
        and mixture with the same budget of training tokens (steps × batch × context), then scores them and the base
        model on each task's held-out examples at every shot count, and how much each forgets of the tasks below.
      </p>
      <StudySettingsForm settings={settings} onChange={setSettings} disabled={study?.status === 'running'} />
      <div className="button-row">
        <button type="button" className="button primary" data-testid="study-run" disabled={study?.status === 'running'} onClick={() => void start()}>
          Run the study
        </button>
        {study && study.status === 'error' && (
          <button type="button" className="button" data-testid="study-resume" onClick={() => void resume()}>
            Resume
          </button>
        )}
      </div>
      {notice && (
        <p className="notice" role="alert">
          {notice}
        </p>
      )}
      {study && <StudyView study={study} timing={timing} log={log} />}
    </section>
  );
}

function StudySettingsForm({ settings, onChange, disabled }: { settings: StudySettings; onChange(patch: Partial<StudySettings>): void; disabled: boolean }) {
  const [shots, setShots] = useState(settings.shots.join(', '));
  const shown = settings.shots.join(', ');
  useEffect(() => {
    setShots((text) => (text.split(',').map((v) => Number(v.trim())).join(', ') === shown ? text : shown));
  }, [shown]);
  const toggle = (task: string) =>
    onChange({ forgetting: settings.forgetting.includes(task) ? settings.forgetting.filter((t) => t !== task) : [...settings.forgetting, task] });
  return (
    <fieldset className="study-settings" disabled={disabled}>
      <legend>Settings</legend>
      <label className="field">
        <span>Shot counts (the most that fit is added)</span>
        <input
          data-testid="study-shots" value={shots}
          onChange={(e) => {
            setShots(e.target.value);
            const parsed = e.target.value.split(',').map((v) => Number(v.trim())).filter((v) => Number.isInteger(v) && v >= 0);
            if (parsed.length > 0) onChange({ shots: parsed });
          }}
        />
      </label>
      <label className="field">
        <span>Held-out examples per task</span>
        <input type="number" min={1} data-testid="study-examples" value={settings.examples} onChange={(e) => onChange({ examples: Math.max(1, Number(e.target.value) || 1) })} />
      </label>
      <label className="field">
        <span>Longest answer (tokens)</span>
        <input type="number" min={1} data-testid="study-answer-tokens" value={settings.maxAnswerTokens} onChange={(e) => onChange({ maxAnswerTokens: Math.max(1, Number(e.target.value) || 1) })} />
      </label>
      <label className="field">
        <span>Label tasks</span>
        <span>
          <input type="checkbox" data-testid="study-rank-labels" checked={settings.rankLabels} onChange={(e) => onChange({ rankLabels: e.target.checked })} /> rank the
          labels by likelihood instead of generating
        </span>
      </label>
      <div className="field">
        <span>Forgetting: tasks no method trains on</span>
        <div className="choices">
          {BUILTIN_TASK_INFO.map((t) => (
            <label key={t.name} className="choice">
              <input type="checkbox" data-testid={`study-forget-${t.name}`} checked={settings.forgetting.includes(t.name)} onChange={() => toggle(t.name)} /> {t.name}
            </label>
          ))}
        </div>
      </div>
    </fieldset>
  );
}

function download(name: string, type: string, content: BlobPart) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The charts' canvases stacked into one PNG. */
function chartsPng(element: HTMLElement): Promise<Blob | null> {
  const canvases = [...element.querySelectorAll('canvas')];
  const width = Math.max(1, ...canvases.map((c) => c.width));
  const height = canvases.reduce((h, c) => h + c.height, 0);
  const out = document.createElement('canvas');
  out.width = width;
  out.height = Math.max(1, height);
  const context = out.getContext('2d');
  if (!context) return Promise.resolve(null);
  context.fillStyle = '#fff';
  context.fillRect(0, 0, out.width, out.height);
  let y = 0;
  for (const canvas of canvases) {
    context.drawImage(canvas, 0, y);
    y += canvas.height;
  }
  return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
}

export function StudyView({ study, timing, log }: { study: StudyRecord; timing: { startedAt: number; unitsAtStart: number } | null; log: string | null }) {
  const result = useMemo(() => studyResult(study), [study]);
  const charts = useRef<HTMLDivElement>(null);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (study.status !== 'running') return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [study.status]);
  const eta = studyEta(study, timing, now);
  const total = study.total;
  return (
    <div className="study-results">
      <div className="study-status" data-testid="study-status">
        {study.status === 'running' && (
          <div className="progress">
            <progress aria-label="Study progress" value={total ? study.units.length : undefined} max={total ?? undefined} />
            <span>
              {total ? `${study.units.length} of ${total} units` : 'starting'}
              {eta !== null ? ` · about ${Math.ceil(eta)} s left` : ''}
              {log ? ` · ${log}` : ''}
            </span>
          </div>
        )}
        {study.status === 'done' && <span>Done: {study.units.length} units.</span>}
        {study.status === 'error' && (
          <span className="error" role="alert">
            The study stopped: {study.error}. Resume goes on from the last finished unit.
          </span>
        )}
      </div>
      {result.table.length > 0 && (
        <>
          <ResultsTable result={result} />
          <div className="charts" ref={charts}>
            {[...new Set(result.table.map((r) => r.task))].map((task) => (
              <TaskCurve key={task} result={result} task={task} />
            ))}
          </div>
          <ForgettingTable result={result} />
          <div className="button-row">
            <button type="button" className="button" data-testid="study-export-csv" onClick={() => download(`${study.id}.csv`, 'text/csv', studyCsv(result))}>
              Export CSV
            </button>
            <button
              type="button" className="button" data-testid="study-export-json"
              onClick={() => download(`${study.id}.json`, 'application/json', JSON.stringify({ config: study.config, ...result }, null, 2))}
            >
              Export JSON
            </button>
            <button
              type="button" className="button" data-testid="study-export-png"
              onClick={() => void (charts.current && chartsPng(charts.current).then((png) => png && download(`${study.id}.png`, 'image/png', png)))}
            >
              Export PNG
            </button>
          </div>
        </>
      )}
    </div>
  );
}

function ResultsTable({ result }: { result: StudyResult }) {
  const shots = [...new Set(result.table.map((r) => r.shots))].sort((a, b) => a - b);
  const tasks = [...new Set(result.table.map((r) => r.task))];
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="study-table">
        <caption>Score on held-out examples (accuracy, rougeL, SQuAD F1 or GSM8K exact match) by number of shots k</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Method</th>
            {shots.map((k) => (
              <th scope="col" className="num" key={k}>
                k={k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {tasks.flatMap((task) =>
            STUDY_METHODS.filter((m) => result.table.some((r) => r.task === task && r.method === m)).map((method) => (
              <tr key={`${task}-${method}`}>
                <th scope="row">{task}</th>
                <td>{METHOD_LABELS[method]}</td>
                {shots.map((k) => {
                  const row = result.table.find((r) => r.task === task && r.method === method && r.shots === k);
                  return (
                    <td className="num" key={k}>
                      {row ? row.score.toFixed(3) : ''}
                    </td>
                  );
                })}
              </tr>
            )),
          )}
        </tbody>
      </table>
    </div>
  );
}

function TaskCurve({ result, task }: { result: StudyResult; task: string }) {
  const curve = useMemo(() => studyCurve(result, task), [result, task]);
  const series = curve.methods.map((m) => ({ label: METHOD_LABELS[m], color: seriesColor(STUDY_METHODS.indexOf(m)), points: true }));
  return (
    <UPlotChart
      data={[curve.shots, ...curve.series]} series={series} xLabel="shots k" yLabel="score" title={`${task}: score against shots`}
      testId={`study-curve-${task}`} integerX yRange={[0, 1]}
    />
  );
}

function ForgettingTable({ result }: { result: StudyResult }) {
  if (result.forgetting.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="study-forgetting">
        <caption>Forgetting: score of tasks no method trained on, before (base model) and after training</caption>
        <thead>
          <tr>
            <th scope="col">Method</th>
            <th scope="col" className="num">
              Mean drop
            </th>
            <th scope="col">Per task (k): before → after</th>
          </tr>
        </thead>
        <tbody>
          {result.forgetting.map((f) => (
            <tr key={f.method}>
              <th scope="row">{METHOD_LABELS[f.method]}</th>
              <td className="num">{f.meanDrop.toFixed(3)}</td>
              <td>{f.rows.map((r) => `${r.task} (${r.shots}): ${r.before.toFixed(2)} → ${r.after.toFixed(2)}`).join('; ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
