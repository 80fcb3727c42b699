import { type DragEvent, type FormEvent, useId, useState } from 'react';
import { formatBytes } from '../util/format';
import type { HubForm, ModelTransfer, ModelsState } from '../store/models';
import { TextField } from './fields';
import './ModelSources.css';

export type ModelSourceActions = Pick<
  ModelsState,
  'addFromHub' | 'addFromUrl' | 'addFromFiles' | 'cancel' | 'setHubToken' | 'forgetHubToken' | 'dismiss'
>;

export interface ModelSourcesProps {
  transfer: ModelTransfer | null;
  error: string | null;
  notice: string | null;
  hubToken: string;
  actions: ModelSourceActions;
}

/** The ways to add a model to the browser's cache: the Hub, a URL, local files; with the transfer's progress. */
export function ModelSources({ transfer, error, notice, hubToken, actions }: ModelSourcesProps) {
  const busy = transfer !== null;
  return (
    <div className="model-sources" data-testid="model-sources">
      {transfer && <TransferProgress transfer={transfer} />}
      {error && (
        <p className="alert alert-error" role="alert" data-testid="model-error">
          {error}{' '}
          <button type="button" className="link-button muted" onClick={actions.dismiss}>
            Dismiss
          </button>
        </p>
      )}
      {notice && !error && (
        <p className="field-hint model-notice" role="status" data-testid="model-notice">
          {notice}
        </p>
      )}
      <details className="disclosure">
        <summary>Add from the Hugging Face Hub</summary>
        <HubSourceForm busy={busy} hubToken={hubToken} actions={actions} />
      </details>
      <details className="disclosure">
        <summary>Add from a URL</summary>
        <UrlSourceForm busy={busy} actions={actions} />
      </details>
      <details className="disclosure">
        <summary>Add files from this computer</summary>
        <LocalFilesDrop busy={busy} actions={actions} />
      </details>
    </div>
  );
}

function HubSourceForm({ busy, hubToken, actions }: { busy: boolean; hubToken: string; actions: ModelSourceActions }) {
  const [form, setForm] = useState<HubForm>({ repo: '', revision: 'main', file: '' });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void actions.addFromHub(form);
  };
  return (
    <form className="hf-form" onSubmit={onSubmit} aria-label="Model from the Hugging Face Hub">
      <TextField label="Repository" value={form.repo} placeholder="TinyLlama/TinyLlama-1.1B-Chat-v1.0" onChange={(repo) => setForm({ ...form, repo })} testId="hub-repo" />
      <div className="field-grid">
        <TextField label="Revision" value={form.revision} onChange={(revision) => setForm({ ...form, revision })} />
        <TextField
          label="File (optional)"
          value={form.file}
          placeholder="model.Q4_K_M.gguf"
          onChange={(file) => setForm({ ...form, file })}
          testId="hub-file"
        />
      </div>
      <p className="field-hint">Without a file: the repo's safetensors weights, config.json and tokenizer.json. Name a .gguf for a GGUF repo.</p>
      <TextField
        label="Access token (optional)"
        type="password"
        value={hubToken}
        onChange={actions.setHubToken}
        testId="hub-token"
        hint="For gated or private repos. Stored only on this device (this browser's local storage) and sent only to the Hub."
      />
      {hubToken && (
        <button type="button" className="link-button muted small-text" onClick={actions.forgetHubToken}>
          Forget the token
        </button>
      )}
      <button type="submit" className="button button-secondary" disabled={busy} data-testid="hub-download">
        Download
      </button>
    </form>
  );
}

function UrlSourceForm({ busy, actions }: { busy: boolean; actions: ModelSourceActions }) {
  const [url, setUrl] = useState('');
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void actions.addFromUrl(url);
  };
  return (
    <form className="hf-form" onSubmit={onSubmit} aria-label="Model from a URL">
      <TextField
        label="Model URL"
        value={url}
        placeholder="https://example.org/models/model.Q4_K_M.gguf"
        onChange={setUrl}
        testId="model-url"
        hint="A .gguf file (split parts are found beside it), or a .safetensors file, model.safetensors.index.json or folder URL ending in / with config.json and tokenizer.json in it. The server must allow cross-origin downloads (CORS)."
      />
      <button type="submit" className="button button-secondary" disabled={busy} data-testid="url-download">
        Download
      </button>
    </form>
  );
}

function LocalFilesDrop({ busy, actions }: { busy: boolean; actions: ModelSourceActions }) {
  const filesId = useId();
  const folderId = useId();
  const [over, setOver] = useState(false);
  const add = (files: File[], folder?: string) => {
    if (!busy) void actions.addFromFiles(files, folder);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    void filesOfDrop(event.dataTransfer).then(({ files, folder }) => add(files, folder));
  };
  return (
    <div
      className={`drop-zone ${over ? 'over' : ''}`}
      data-testid="model-drop-zone"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <p className="drop-zone-text">
        Drop a <code>.gguf</code> file here, or a model folder with <code>.safetensors</code>, <code>config.json</code> and{' '}
        <code>tokenizer.json</code>. The files are copied into this browser's storage.
      </p>
      <div className="button-row">
        <input
          id={filesId}
          className="visually-hidden"
          type="file"
          multiple
          accept=".gguf,.safetensors,.json"
          disabled={busy}
          data-testid="model-files"
          onChange={(e) => {
            add([...(e.target.files ?? [])]);
            e.target.value = '';
          }}
        />
        <label htmlFor={filesId} className={`button button-secondary ${busy ? 'disabled' : ''}`}>
          Choose files
        </label>
        <input
          id={folderId}
          className="visually-hidden"
          type="file"
          disabled={busy}
          ref={(input) => input?.setAttribute('webkitdirectory', '')}
          onChange={(e) => {
            const { files, folder } = filesOfFolderInput([...(e.target.files ?? [])]);
            add(files, folder);
            e.target.value = '';
          }}
        />
        <label htmlFor={folderId} className={`button button-secondary ${busy ? 'disabled' : ''}`}>
          Choose a folder
        </label>
      </div>
    </div>
  );
}

function TransferProgress({ transfer }: { transfer: ModelTransfer }) {
  const { label, file, loaded, total, bytesPerSecond, etaSeconds, cancel } = transfer;
  const known = total > 0;
  return (
    <div className="model-transfer" data-testid="model-transfer">
      <p className="model-transfer-label">
        Adding <strong>{label}</strong>
        {!file ? <span className="muted"> · looking up the files…</span> : file !== label && <span className="muted"> · {file}</span>}
      </p>
      <div className="progress">
        <progress aria-label={`Adding ${label}`} value={known ? loaded : undefined} max={known ? total : undefined} />
        <button type="button" className="button button-secondary" onClick={cancel} data-testid="cancel-transfer">
          Cancel
        </button>
      </div>
      <p className="small-text muted model-transfer-facts" data-testid="transfer-facts" aria-live="polite">
        {formatBytes(loaded)} of {known ? formatBytes(total) : 'unknown'} · {formatSpeed(bytesPerSecond)} · {formatEta(etaSeconds)}
      </p>
    </div>
  );
}

export function formatSpeed(bytesPerSecond: number): string {
  return bytesPerSecond > 0 && Number.isFinite(bytesPerSecond) ? `${formatBytes(bytesPerSecond)}/s` : '– /s';
}

/** Time left in words: `45 s left`, `3 min 5 s left`, `1 h 20 min left`. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'time left unknown';
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole} s left`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${whole % 60} s left`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

/** The files of a folder picked with a directory input: only those directly in it, and the folder's name. */
function filesOfFolderInput(files: File[]): { files: File[]; folder?: string } {
  const folder = files[0]?.webkitRelativePath.split('/')[0] || undefined;
  return { files: files.filter((f) => f.webkitRelativePath.split('/').length <= 2), folder };
}

/** Dropped files, and the files directly inside a dropped folder (with the folder's name). */
async function filesOfDrop(dataTransfer: DataTransfer): Promise<{ files: File[]; folder?: string }> {
  // Entries must be taken synchronously, while the drop event is being handled.
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.() ?? null);
  if (entries.some((entry) => entry === null)) return { files: [...dataTransfer.files] };
  const files: File[] = [];
  let folder: string | undefined;
  for (const entry of entries as FileSystemEntry[]) {
    if (entry.isFile) files.push(await fileOfEntry(entry as FileSystemFileEntry));
    else if (entry.isDirectory) {
      folder ??= entry.name;
      for (const child of await entriesOf(entry as FileSystemDirectoryEntry)) {
        if (child.isFile) files.push(await fileOfEntry(child as FileSystemFileEntry));
      }
    }
  }
  return { files, folder };
}

const fileOfEntry = (entry: FileSystemFileEntry) => new Promise<File>((resolve, reject) => entry.file(resolve, reject));

async function entriesOf(directory: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = directory.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}
