import { useState } from 'react';
import { EXPORT_FORMATS, type ExportFormat, type ExportPrecision, FORMAT_LABELS, precisionsOf, useExportsStore } from '../store/exports';
import { selectedRun, useRunsStore } from '../store/runs';
import './ExportPanel.css';

/** Exports the selected run in the ecosystem's formats, and imports PEFT adapters as runs. */
export function ExportPanel() {
  const state = useExportsStore();
  const run = useRunsStore(selectedRun);
  const { set, exportRun, exportRecipe } = useExportsStore.getState();
  const hasWeights = run?.checkpointStep !== undefined;
  const busyHere = state.busy !== null;
  const adapterOnly = (format: ExportFormat) => format === 'peft' || format === 'gguf-lora';
  const precisions = precisionsOf(state.format);
  return (
    <section className="panel" data-testid="export" aria-labelledby="export-title">
      <div className="panel-head">
        <h2 className="panel-title" id="export-title">
          Export and import
        </h2>
      </div>
      {!run ? (
        <p className="muted">Select a run in the experiments list to export what it trained.</p>
      ) : !hasWeights ? (
        <p className="muted">{run.name} has no checkpoint yet: train it for at least {run.config.checkpointEvery} steps first.</p>
      ) : (
        <>
          <p className="muted small-text">
            {run.name}, {run.importedFrom ? `imported from ${run.importedFrom}, ` : ''}as of step {run.checkpointStep}.
          </p>
          <div className="export-options">
            <label className="field">
              <span>Format</span>
              <select data-testid="export-format" value={state.format} onChange={(e) => set({ format: e.target.value as ExportFormat })}>
                {EXPORT_FORMATS.map((f) => (
                  <option key={f} value={f} disabled={run.config.mode === 'full' && adapterOnly(f)}>
                    {FORMAT_LABELS[f]}
                  </option>
                ))}
              </select>
            </label>
            {precisions.length > 1 && (
              <label className="field">
                <span>Precision</span>
                <select data-testid="export-precision" value={state.precision} onChange={(e) => set({ precision: e.target.value as ExportPrecision })}>
                  {precisions.map((p) => (
                    <option key={p} value={p}>
                      {p.toUpperCase()}
                    </option>
                  ))}
                </select>
              </label>
            )}
          </div>
          <div className="button-row">
            <button type="button" className="button primary" data-testid="export-download" disabled={busyHere} onClick={() => void exportRun(run.id, 'download')}>
              Download
            </button>
            {state.canPickFolder && (
              <button type="button" className="button" data-testid="export-folder" disabled={busyHere} onClick={() => void exportRun(run.id, 'folder')}>
                Save to folder…
              </button>
            )}
          </div>
          {run.config.mode === 'lora' && (
            <div className="export-recipe">
              <p className="muted small-text">
                Outgrown the browser? The same run as a TRL + PEFT job for <code>accelerate launch</code> (one GPU, DDP, FSDP2, DeepSpeed
                ZeRO-3): the packed data with its answer masks, the scripts, and our engine's first-step loss for its parity check.
              </p>
              <div className="button-row">
                <button type="button" className="button" data-testid="export-recipe" disabled={busyHere} onClick={() => void exportRecipe(run.id, 'download')}>
                  Cluster recipe (.zip)
                </button>
                {state.canPickFolder && (
                  <button type="button" className="button" data-testid="export-recipe-folder" disabled={busyHere} onClick={() => void exportRecipe(run.id, 'folder')}>
                    Cluster recipe to folder…
                  </button>
                )}
              </div>
            </div>
          )}
        </>
      )}
      {state.busy && (
        <div className="export-progress" role="status">
          <span>Exporting the {state.busy.label}…</span>
          <progress max={state.progress?.total ?? 1} value={state.progress?.done ?? undefined} aria-label="Export progress" />
        </div>
      )}
      {state.message && (
        <p className="alert" role="status" data-testid="export-message">
          {state.message}
        </p>
      )}
      {state.error && (
        <p className="alert alert-error" role="alert" data-testid="export-error">
          {state.error}
        </p>
      )}
      <ImportAdapter />
    </section>
  );
}

function ImportAdapter() {
  const importing = useExportsStore((s) => s.importing);
  const importError = useExportsStore((s) => s.importError);
  const { importAdapter } = useExportsStore.getState();
  const [url, setUrl] = useState('');
  const [repo, setRepo] = useState('');
  const [token, setToken] = useState('');
  const fromFiles = async (list: FileList | null) => {
    if (!list || list.length === 0) return;
    const files = await Promise.all([...list].map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    await importAdapter({ kind: 'files', files });
  };
  return (
    <details className="import-adapter" data-testid="import-adapter">
      <summary>Import a PEFT LoRA adapter</summary>
      <p className="muted small-text">
        For the model chosen in the run setup, with its tasks and settings: the adapter becomes a run that starts from it. Start it to
        train on, or try it in the playground.
      </p>
      <label className="field">
        <span>Files (adapter_config.json and adapter_model.safetensors, or a .zip)</span>
        <input type="file" multiple accept=".json,.safetensors,.zip" data-testid="import-adapter-files" disabled={importing} onChange={(e) => void fromFiles(e.target.files)} />
      </label>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void importAdapter({ kind: 'url', url });
        }}
      >
        <label className="field">
          <span>URL (a .zip, or a folder URL ending in /)</span>
          <input type="url" data-testid="import-adapter-url" value={url} onChange={(e) => setUrl(e.target.value)} />
        </label>
        <button type="submit" className="button" disabled={importing || url === ''}>
          Import
        </button>
      </form>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void importAdapter({ kind: 'hub', repo, token: token || undefined });
        }}
      >
        <label className="field">
          <span>Hugging Face repo (owner/name)</span>
          <input type="text" data-testid="import-adapter-repo" value={repo} onChange={(e) => setRepo(e.target.value)} />
        </label>
        <label className="field">
          <span>Token (private repos)</span>
          <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
        </label>
        <button type="submit" className="button" disabled={importing || repo === ''}>
          Import
        </button>
      </form>
      {importing && <p role="status">Reading the adapter…</p>}
      {importError && (
        <p className="alert alert-error" role="alert" data-testid="import-adapter-error">
          {importError}
        </p>
      )}
    </details>
  );
}
