// A new version of the app, waiting. The service worker (vite-plugin-pwa, prompt mode) installs a new version
// in the background and leaves it waiting; src/main.tsx reports it here, and the page shows a notice. The new
// version takes over only when the user asks (`reload`), never by itself: a reload would cut a training run.
import { create } from 'zustand';
import type { RunRecord } from '../train/protocol';
import type { StudyStatus } from './study';

export interface AppUpdateState {
  /** A new version is installed and waits for this page to let it take over. */
  waiting: boolean;
  /** The user asked for the new version: the page reloads once it controls the page. */
  reloading: boolean;
  /** The new version already controls the page (another tab let it take over): a plain reload loads it. */
  tookOver: boolean;
  /** Lets the waiting version take over (the service worker's skipWaiting); set by src/main.tsx. */
  activate: (() => Promise<void>) | null;

  /** A new version waits; `activate` lets it take over. */
  updateWaiting(activate: () => Promise<void>): void;
  /** The new version took over without this page asking, and the page did not reload (it was training). */
  tookOverElsewhere(): void;
  /** The user's "reload": the new version takes over, then the page reloads (src/main.tsx's onNeedReload). */
  reload(): Promise<void>;
  /** Hides the notice until the next update is found (the waiting version takes over on the next visit). */
  dismiss(): void;
}

export const useAppUpdateStore = create<AppUpdateState>()((set, get) => ({
  waiting: false,
  reloading: false,
  tookOver: false,
  activate: null,

  updateWaiting(activate) {
    set({ waiting: true, activate });
  },

  tookOverElsewhere() {
    set({ waiting: true, tookOver: true });
  },

  async reload() {
    const { activate, reloading, tookOver } = get();
    if (reloading) return;
    set({ reloading: true });
    if (activate && !tookOver) await activate();
    else location.reload();
  },

  dismiss() {
    set({ waiting: false });
  },
}));

/**
 * Whether a reload now would cut training short: the run the training client has is loading or training,
 * or a study is running. A paused run is not: it goes on from its checkpoint after a reload.
 */
export function trainingBusy(runs: readonly Pick<RunRecord, 'id' | 'status'>[], activeId: string | null, study: StudyStatus | undefined): boolean {
  if (study === 'running') return true;
  if (activeId === null) return false;
  const active = runs.find((run) => run.id === activeId);
  return active !== undefined && (active.status === 'loading' || active.status === 'running');
}

/**
 * What the page does when the new version has taken over: reload when this page asked for it; when another tab
 * did, reload only if nothing trains here, else leave the notice up for the user to reload later.
 */
export function shouldReloadOnTakeover(reloading: boolean, busy: boolean): boolean {
  return reloading || !busy;
}
