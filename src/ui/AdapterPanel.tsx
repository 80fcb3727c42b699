import { useEffect, useRef, useState } from 'react';
import { formatBytes } from '../util/format';
import { isSoftwareAdapter, useGpuStore, WORKBENCH_FEATURES, type AdapterReport, type GpuStatus } from '../store/gpu';
import './AdapterPanel.css';

/** The WebGPU adapter as the GPU store sees it. */
export function AdapterPanel() {
  const status = useGpuStore((state) => state.status);
  const adapter = useGpuStore((state) => state.adapter);
  const error = useGpuStore((state) => state.error);
  const probe = useGpuStore((state) => state.probe);
  return <AdapterStatus status={status} adapter={adapter} error={error} onRetry={() => void probe()} />;
}

/** Where the adapter's details open from the header badge. */
export const GPU_DETAILS_ID = 'gpu-details';

/** The panel on the page itself when WebGPU is missing or failed: the workbench cannot train, so it says so up front. */
export function GpuProblem() {
  const status = useGpuStore((state) => state.status);
  if (status !== 'missing' && status !== 'error') return null;
  return (
    <div className="gpu-problem" id="gpu">
      <AdapterPanel />
    </div>
  );
}

/**
 * The page header's badge: the adapter, or what is wrong. While WebGPU works (or is being checked) it opens the
 * adapter's details in a popover; when it is missing or failed, it links to the panel on the page (GpuProblem).
 */
export function GpuBadge() {
  const status = useGpuStore((state) => state.status);
  const adapter = useGpuStore((state) => state.adapter);
  const [open, setOpen] = useState(false);
  const popover = useRef<HTMLDivElement>(null);
  const inPopover = status === 'ready' || status === 'probing';
  useEffect(() => {
    const element = popover.current;
    if (!element) return;
    const onToggle = (event: Event) => setOpen((event as ToggleEvent).newState === 'open');
    element.addEventListener('toggle', onToggle);
    return () => element.removeEventListener('toggle', onToggle);
  }, [inPopover]);
  return (
    <>
      <GpuBadgeView status={status} adapter={adapter} open={open} />
      {inPopover && (
        // A native popover: the browser closes it on Escape or a click outside and puts it in the tab order after the badge.
        <div ref={popover} id={GPU_DETAILS_ID} popover="auto" className="gpu-popover" role="dialog" aria-label="WebGPU adapter details">
          <button type="button" className="icon-button gpu-popover-close" popoverTarget={GPU_DETAILS_ID} popoverTargetAction="hide" aria-label="Close the adapter details">
            ×
          </button>
          <AdapterPanel />
        </div>
      )}
    </>
  );
}

export function GpuBadgeView({ status, adapter, open = false }: { status: GpuStatus; adapter?: AdapterReport; open?: boolean }) {
  const text =
    status === 'ready' && adapter
      ? `WebGPU · ${[adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || adapter.description || 'adapter'}`
      : status === 'probing'
        ? 'WebGPU · checking…'
        : status === 'missing'
          ? 'WebGPU unavailable'
          : 'WebGPU error';
  const tone = status === 'ready' ? (adapter && isSoftwareAdapter(adapter) ? 'badge-warn' : 'badge-ok') : status === 'probing' ? 'badge-muted' : 'badge-error';
  if (status === 'missing' || status === 'error') {
    return (
      <a className={`badge gpu-badge ${tone}`} href="#gpu" data-testid="gpu-badge" title="WebGPU is needed to train: what to do is below">
        <span className="gpu-badge-text">{text}</span>
      </a>
    );
  }
  return (
    <button
      type="button"
      className={`badge gpu-badge ${tone}`}
      popoverTarget={GPU_DETAILS_ID}
      aria-expanded={open}
      aria-controls={GPU_DETAILS_ID}
      data-testid="gpu-badge"
      title="The WebGPU adapter: its features and limits"
    >
      <span className="gpu-badge-text">{text}</span>
      <span className="gpu-badge-chevron" aria-hidden="true">
        ▾
      </span>
    </button>
  );
}

export interface AdapterStatusProps {
  status: GpuStatus;
  adapter?: AdapterReport;
  error?: string;
  onRetry: () => void;
}

export function AdapterStatus({ status, adapter, error, onRetry }: AdapterStatusProps) {
  if (status === 'ready' && adapter) return <AdapterDetails adapter={adapter} />;
  if (status === 'missing') return <WebGpuMissing reason={error} onRetry={onRetry} />;
  if (status === 'error') return <WebGpuFailed message={error} onRetry={onRetry} />;
  return (
    <section className="panel" data-testid="webgpu-probing" aria-busy="true">
      <h2 className="panel-title">WebGPU adapter</h2>
      <p className="muted">
        <span className="spinner" aria-hidden="true" /> Looking for a WebGPU adapter…
      </p>
    </section>
  );
}

function AdapterDetails({ adapter }: { adapter: AdapterReport }) {
  const limitNames = Object.keys(adapter.limits).sort();
  return (
    <section className="panel" data-testid="adapter-panel" aria-labelledby="adapter-title">
      <div className="panel-head">
        <h2 className="panel-title" id="adapter-title">
          WebGPU adapter
        </h2>
        <span className="badge badge-ok" data-testid="webgpu-ready">
          WebGPU ready
        </span>
      </div>

      {isSoftwareAdapter(adapter) && (
        <p className="notice" data-testid="adapter-software">
          This is a software adapter that runs on the CPU. It is fine for checking that things work, and far too
          slow for training.
        </p>
      )}

      <dl className="facts">
        <Fact label="Vendor" value={adapter.vendor} testId="adapter-vendor" />
        <Fact label="Architecture" value={adapter.architecture} testId="adapter-architecture" />
        <Fact label="Device" value={adapter.device} testId="adapter-device" />
        <Fact label="Description" value={adapter.description} testId="adapter-description" />
        <Fact label="Fallback adapter" value={adapter.isFallbackAdapter ? 'yes' : 'no'} testId="adapter-fallback" />
      </dl>

      <h3 className="section-title">Optional features the workbench requests</h3>
      <ul className="key-features" data-testid="adapter-key-features">
        {WORKBENCH_FEATURES.map(({ name, use }) => {
          const present = adapter.features.includes(name);
          return (
            <li key={name} className={present ? 'key-feature present' : 'key-feature absent'}>
              <span className="key-feature-mark" aria-hidden="true">
                {present ? '✓' : '–'}
              </span>
              <code>{name}</code>
              <span className="muted">
                {use}
                {present ? '' : ' (not offered by this adapter)'}
              </span>
            </li>
          );
        })}
      </ul>

      <details className="disclosure adapter-more">
        <summary>
          All features <span className="count">{adapter.features.length}</span> and limits{' '}
          <span className="count">{limitNames.length}</span>
        </summary>
        {adapter.features.length > 0 ? (
          <ul className="chips" data-testid="adapter-features">
            {adapter.features.map((feature) => (
              <li key={feature} className="chip" data-testid="adapter-feature">
                {feature}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted" data-testid="adapter-features">
            This adapter offers no optional features.
          </p>
        )}
        <p className="muted small">
          The adapter's maxima. The workbench asks for the highest buffer and workgroup limits when it opens the
          device.
        </p>
        <div className="table-wrap">
          <table className="limits" data-testid="adapter-limits">
            <thead>
              <tr>
                <th scope="col">Limit</th>
                <th scope="col" className="num">
                  Value
                </th>
              </tr>
            </thead>
            <tbody>
              {limitNames.map((name) => (
                <tr key={name} data-testid={`limit-${name}`}>
                  <td>
                    <code>{name}</code>
                  </td>
                  <td className="num">{formatLimit(name, adapter.limits[name])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

function Fact({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value || <span className="muted">not reported</span>}</dd>
    </div>
  );
}

function WebGpuMissing({ reason, onRetry }: { reason?: string; onRetry: () => void }) {
  return (
    <section className="panel panel-warning" data-testid="webgpu-missing" aria-labelledby="missing-title">
      <h2 className="panel-title" id="missing-title">
        WebGPU is not available in this browser
      </h2>
      {reason && (
        <p className="reason" data-testid="webgpu-missing-reason">
          {reason}
        </p>
      )}
      <p>The workbench runs its kernels on your GPU through WebGPU. To turn it on:</p>
      <EnableWebGpuHelp />
      <RetryButton onClick={onRetry} />
    </section>
  );
}

function WebGpuFailed({ message, onRetry }: { message?: string; onRetry: () => void }) {
  return (
    <section className="panel panel-error" data-testid="webgpu-error" aria-labelledby="error-title">
      <h2 className="panel-title" id="error-title">
        WebGPU could not be started
      </h2>
      <p className="reason" data-testid="webgpu-error-message">
        {message || 'An unknown error occurred while opening the GPU.'}
      </p>
      <p>If this keeps happening, check that WebGPU is enabled:</p>
      <EnableWebGpuHelp />
      <RetryButton onClick={onRetry} />
    </section>
  );
}

function EnableWebGpuHelp() {
  return (
    <ul className="help" data-testid="webgpu-help">
      <li>
        <strong>Chrome or Edge 113+</strong> on Windows, macOS and ChromeOS have WebGPU on by default.
      </li>
      <li>
        <strong>Chrome 121+ on Android</strong> (Android 12 or newer) has it on by default.
      </li>
      <li>
        <strong>Linux</strong>: in Chrome or Chromium, open <code>chrome://flags/#enable-unsafe-webgpu</code> and{' '}
        <code>chrome://flags/#enable-vulkan</code>, enable both, and restart the browser.
      </li>
      <li>
        <strong>Secure context</strong>: WebGPU exists only on pages served over <code>https://</code> or from{' '}
        <code>localhost</code>; a plain <code>http://</code> address of another machine will not do.
      </li>
      <li>
        If WebGPU is on and still no adapter is found, the GPU or its driver may be blocklisted: see{' '}
        <code>chrome://gpu</code>.
      </li>
      <li className="muted">
        Firefox 141+ (on Windows) and Safari 26+ also ship WebGPU; the workbench is developed and tested in
        Chromium.
      </li>
    </ul>
  );
}

function RetryButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" className="button" onClick={onClick}>
      Check again
    </button>
  );
}

/** Byte-sized limits also get a readable size: 2147483648 (2 GiB). */
function formatLimit(name: string, value: number): string {
  const plain = value.toLocaleString('en-US');
  if (!/Size$/.test(name) || value < 1024) return plain;
  return `${plain} (${formatBytes(value)})`;
}
