// The design system first (tokens, element defaults, shared primitives), so each component's own stylesheet,
// imported by the component, comes after it and can refine it.
import './ui/styles/tokens.css';
import './ui/styles/base.css';
import './ui/styles/panel.css';
import './ui/styles/controls.css';
import './ui/styles/forms.css';
import './ui/styles/table.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { registerSW } from 'virtual:pwa-register';
import { shouldReloadOnTakeover, trainingBusy, useAppUpdateStore } from './store/app-update';
import { useGpuStore } from './store/gpu';
import { useRunsStore } from './store/runs';
import { useStudyStore } from './store/study';
import { usePreferencesStore } from './store/preferences';
import { App } from './ui/App';

void useGpuStore.getState().probe();
void useRunsStore.getState().loadRuns();
// A study that was running when the page went away goes on from its last finished unit.
void useStudyStore.getState().load();
// Metrics are saved every few seconds while a run trains; save what is pending when the page goes away.
addEventListener('pagehide', () => void useRunsStore.getState().flush());

// The service worker (vite.config.ts) makes the app work offline after one visit. A new version waits for the
// user's "reload" (src/ui/UpdateNotice.tsx); `npm run dev` registers nothing (the virtual module is a no-op).
const updateServiceWorker = registerSW({
  onNeedRefresh: () => useAppUpdateStore.getState().updateWaiting(() => updateServiceWorker()),
  // Not the plugin's reload: it skips pages whose first visit installed the worker; the listener below decides.
  onNeedReload: () => {},
  // A tab left open for days still hears of new versions: look once an hour.
  onRegisteredSW: (_url, registration) => {
    if (registration) setInterval(() => navigator.onLine && void registration.update().catch(() => {}), 60 * 60 * 1000);
  },
  onRegisterError: (error) => console.warn('the service worker did not register; the app will not work offline', error),
});

// The new version controls the page now: reload if this page asked, or if nothing trains here (another tab
// let it take over); while a run trains, the notice stays up instead. The first visit's claim changes nothing.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    const updates = useAppUpdateStore.getState();
    if (!updates.waiting && !updates.reloading) return;
    const runs = useRunsStore.getState();
    if (shouldReloadOnTakeover(updates.reloading, trainingBusy(runs.runs, runs.activeId, useStudyStore.getState().study?.status))) location.reload();
    else updates.tookOverElsewhere();
  });
}

usePreferencesStore.getState(); // its type scale is set before the first render, so nothing jumps
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
