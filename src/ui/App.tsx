import { useEffect, useState } from 'react';
import { GpuBadge, GpuProblem } from './AdapterPanel';
import { CompareView } from './CompareView';
import { ContextPreview } from './ContextPreview';
import { ExperimentsList } from './ExperimentsList';
import { ExportPanel } from './ExportPanel';
import { ImportPanel } from './ImportPanel';
import { ModelPicker } from './ModelPicker';
import { PlaygroundPanel } from './PlaygroundPanel';
import { StudyPanel } from './StudyPanel';
import { CreateRun, TaskBuilder } from './TaskBuilder';
import { TrainingDashboard } from './TrainingDashboard';
import { UpdateNotice } from './UpdateNotice';
import { usePreferencesStore } from '../store/preferences';
import './App.css';

/** The path through the setup, in the order of the page: the step nav links to each. */
const STEPS = [
  { id: 'step-model', label: 'Model' },
  { id: 'step-tasks', label: 'Tasks' },
  { id: 'step-run', label: 'Run' },
] as const;

export function App() {
  return (
    <div className="app">
      <a className="skip-link" href="#dashboard">
        Skip to the dashboard
      </a>
      <header className="app-header">
        <div className="app-header-inner">
          <div className="brand">
            <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
              <rect width="32" height="32" rx="7" />
              <path d="M8 23V9h3l5 8 5-8h3v14h-3v-9l-5 7.5L11 14v9z" />
            </svg>
            <div>
              <h1 className="app-title" data-testid="app-title">
                ManyICL Workbench
              </h1>
              <p className="app-tagline">Many-shot in-context fine-tuning of language models, in your browser, on WebGPU.</p>
            </div>
          </div>
          <div className="header-tools">
            <LargeTypeToggle />
            <GpuBadge />
          </div>
        </div>
      </header>
      <StepNav />
      <GpuProblem />
      <div className="workbench">
        <div className="setup-column">
          <section className="step" id="step-model" aria-label="Step 1: model">
            <ModelPicker />
          </section>
          <section className="step" id="step-tasks" aria-label="Step 2: tasks">
            <TaskBuilder />
            <ImportPanel />
            <ContextPreview />
          </section>
          <section className="step" id="step-run" aria-label="Step 3: run">
            <CreateRun />
          </section>
        </div>
        <main className="main-column" id="dashboard" tabIndex={-1} aria-label="Runs and results">
          <ExperimentsList />
          <TrainingDashboard />
          <CompareView />
          <StudyPanel />
          <PlaygroundPanel />
          <ExportPanel />
        </main>
      </div>
      <UpdateNotice />
    </div>
  );
}

/** The steps of the path and the way to the runs, kept at the top of the window while the page scrolls. */
function StepNav() {
  const current = useStepInView();
  return (
    <nav className="step-nav" aria-label="Setup steps">
      <div className="step-nav-inner">
        <p className="step-nav-lead" id="step-nav-lead">
          Start here
        </p>
        <ol className="step-links" aria-describedby="step-nav-lead">
          {STEPS.map((step, index) => (
            <li key={step.id}>
              <a className="step-link" href={`#${step.id}`} aria-current={current === step.id ? 'step' : undefined}>
                <span className="step-number" aria-hidden="true">
                  {index + 1}
                </span>
                {step.label}
              </a>
            </li>
          ))}
        </ol>
        <a className="step-link step-link-results" href="#dashboard" aria-current={current === 'dashboard' ? 'location' : undefined}>
          Runs and dashboard
        </a>
      </div>
    </nav>
  );
}

/** The step or the dashboard the reader is at, for the step nav to mark; null above the first step. */
function useStepInView(): string | null {
  const [current, setCurrent] = useState<string | null>(null);
  useEffect(() => {
    let frame = 0;
    const update = () => {
      frame = 0;
      setCurrent(stepInView());
    };
    const schedule = () => {
      if (frame === 0) frame = requestAnimationFrame(update);
    };
    update();
    addEventListener('scroll', schedule, { passive: true });
    addEventListener('resize', schedule);
    return () => {
      removeEventListener('scroll', schedule);
      removeEventListener('resize', schedule);
      cancelAnimationFrame(frame);
    };
  }, []);
  return current;
}

/**
 * The last step whose top has passed a line a third of the way down the window (at the end of the page, the last
 * one in view), or the dashboard where it comes after the steps (one column) and has passed that line.
 */
function stepInView(): string | null {
  const line = innerHeight / 3;
  const atEnd = innerHeight + scrollY >= document.documentElement.scrollHeight - 2;
  let current: string | null = null;
  let stepsBottom = 0;
  for (const { id } of STEPS) {
    const box = document.getElementById(id)?.getBoundingClientRect();
    if (!box) continue;
    if (box.top <= line || (atEnd && box.top < innerHeight)) current = id;
    stepsBottom = box.bottom;
  }
  const dashboard = document.getElementById('dashboard')?.getBoundingClientRect();
  if (dashboard && dashboard.top >= stepsBottom && (dashboard.top <= line || atEnd)) current = 'dashboard';
  return current;
}

/** Larger type for a projector or a classroom screen; every size is in rem, so the whole page scales. */
function LargeTypeToggle() {
  const large = usePreferencesStore((s) => s.typeScale === 'large');
  const setTypeScale = usePreferencesStore((s) => s.setTypeScale);
  const toggle = () => setTypeScale(large ? 'normal' : 'large');
  return (
    <button type="button" className="button button-secondary header-button" aria-pressed={large} onClick={toggle} data-testid="large-type">
      <span aria-hidden="true" className="large-type-glyph">
        A<span>A</span>
      </span>
      Large type
    </button>
  );
}
