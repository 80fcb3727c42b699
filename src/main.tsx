import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { useGpuStore } from './store/gpu';
import { useRunsStore } from './store/runs';
import { useStudyStore } from './store/study';
import { App } from './ui/App';
import './ui/app.css';

void useGpuStore.getState().probe();
void useRunsStore.getState().loadRuns();
// A study that was running when the page went away goes on from its last finished unit.
void useStudyStore.getState().load();
// Metrics are saved every few seconds while a run trains; save what is pending when the page goes away.
addEventListener('pagehide', () => void useRunsStore.getState().flush());

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
