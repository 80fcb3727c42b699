import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { useGpuStore } from './store/gpu';
import { App } from './ui/App';
import './ui/app.css';

void useGpuStore.getState().probe();

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
