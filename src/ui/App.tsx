import { AdapterPanel, GpuBadge } from './AdapterPanel';
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

export function App() {
  return (
    <div className="app">
      <a className="skip-link" href="#dashboard">
        Skip to the dashboard
      </a>
      <header className="app-header">
        <div className="app-header-inner">
          <div>
            <h1 className="app-title" data-testid="app-title">
              ManyICL Workbench
            </h1>
            <p className="app-tagline">Many-shot in-context fine-tuning of language models, in your browser, on WebGPU.</p>
          </div>
          <GpuBadge />
        </div>
      </header>
      <div className="workbench">
        <aside className="setup-column" aria-label="Run setup">
          <div id="gpu">
            <AdapterPanel />
          </div>
          <ModelPicker />
          <TaskBuilder />
          <ImportPanel />
          <ContextPreview />
          <CreateRun />
        </aside>
        <main className="main-column" id="dashboard">
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
