// "A new version is ready — reload": shown when the service worker has installed a new version that waits.
// While a run trains, the button waits too (a reload would cut the run short).
import { trainingBusy, useAppUpdateStore } from '../store/app-update';
import { useRunsStore } from '../store/runs';
import { useStudyStore } from '../store/study';
import './UpdateNotice.css';

export interface UpdateNoticeViewProps {
  waiting: boolean;
  busy: boolean;
  reloading: boolean;
  onReload(): void;
  onDismiss(): void;
}

export function UpdateNoticeView({ waiting, busy, reloading, onReload, onDismiss }: UpdateNoticeViewProps) {
  if (!waiting) return null;
  return (
    <div className="update-notice" role="status" data-testid="update-notice">
      <span>A new version is ready — reload{busy ? ' once training is done' : ''}.</span>
      <button type="button" onClick={onReload} disabled={busy || reloading} data-testid="update-reload" title={busy ? 'Reloading now would stop the run' : undefined}>
        {reloading ? 'Reloading…' : 'Reload'}
      </button>
      <button type="button" className="link-button" onClick={onDismiss} aria-label="Dismiss: use the new version on the next visit">
        Later
      </button>
    </div>
  );
}

export function UpdateNotice() {
  const { waiting, reloading, reload, dismiss } = useAppUpdateStore();
  const runs = useRunsStore((s) => s.runs);
  const activeId = useRunsStore((s) => s.activeId);
  const study = useStudyStore((s) => s.study?.status);
  return (
    <UpdateNoticeView
      waiting={waiting}
      busy={trainingBusy(runs, activeId, study)}
      reloading={reloading}
      onReload={() => void reload()}
      onDismiss={dismiss}
    />
  );
}
