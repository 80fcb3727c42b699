import { useId, type FormEvent } from 'react';
import { DELIMITER_NAMES, TASK_FAMILIES, useRunSetupStore, type RunSetupState, type HfForm, type ImportDraft, type ImportedDataset, type TaskFamily } from '../store/run-setup';
import { NumberField, TextField } from './fields';
import './ImportPanel.css';

type Actions = Pick<
  RunSetupState,
  'openFile' | 'setHfForm' | 'fetchHf' | 'updateDraft' | 'cancelDraft' | 'commitDraft' | 'toggleImport' | 'setImportWeight' | 'removeImport'
>;

/** Imports of user data (JSONL/CSV files, Hugging Face datasets), wired to the run-setup store. */
export function ImportPanel() {
  const imports = useRunSetupStore((s) => s.imports);
  const draft = useRunSetupStore((s) => s.draft);
  const hfForm = useRunSetupStore((s) => s.hfForm);
  const hfStatus = useRunSetupStore((s) => s.hfStatus);
  const hfError = useRunSetupStore((s) => s.hfError);
  return <ImportView imports={imports} draft={draft} hfForm={hfForm} hfStatus={hfStatus} hfError={hfError} actions={useRunSetupStore.getState()} />;
}

export interface ImportViewProps {
  imports: ImportedDataset[];
  draft: ImportDraft | null;
  hfForm: HfForm;
  hfStatus: RunSetupState['hfStatus'];
  hfError: string | null;
  actions: Actions;
}

export function ImportView({ imports, draft, hfForm, hfStatus, hfError, actions }: ImportViewProps) {
  const fileId = useId();
  const onFile = async (file: File | undefined) => {
    if (!file) return;
    actions.openFile(file.name, await file.text());
  };
  const onHf = (event: FormEvent) => {
    event.preventDefault();
    void actions.fetchHf();
  };
  return (
    <section className="panel setup-panel" data-testid="import-panel" aria-labelledby="import-title">
      <h2 className="panel-title" id="import-title">
        Your data
      </h2>
      <p className="field-hint">Import examples as a task of their own. Rows that cannot be read are listed, not dropped silently.</p>

      {imports.length > 0 && (
        <ul className="imports" aria-label="Imported datasets">
          {imports.map((d) => (
            <ImportedRow key={d.id} dataset={d} actions={actions} />
          ))}
        </ul>
      )}

      {draft ? (
        <DraftEditor draft={draft} actions={actions} />
      ) : (
        <>
          <details className="disclosure">
            <summary>From a file (JSONL, CSV or TSV)</summary>
            <div className="field">
              <label htmlFor={fileId}>File</label>
              <input
                id={fileId}
                className="input"
                type="file"
                accept=".jsonl,.json,.ndjson,.csv,.tsv,.tab,application/jsonl,text/csv,text/tab-separated-values"
                data-testid="import-file"
                onChange={(e) => void onFile(e.target.files?.[0])}
              />
              <span className="field-hint">JSON Lines (one object per line), or CSV/TSV with a header row (comma, tab or semicolon: found from the header). Next you map its fields.</span>
            </div>
          </details>
          <details className="disclosure">
            <summary>From Hugging Face</summary>
            <form className="hf-form" onSubmit={onHf} aria-label="Hugging Face dataset">
              <TextField label="Dataset" value={hfForm.dataset} placeholder="stanfordnlp/sst2" onChange={(dataset) => actions.setHfForm({ dataset })} testId="hf-dataset" />
              <div className="field-grid">
                <TextField label="Config" value={hfForm.config} onChange={(config) => actions.setHfForm({ config })} />
                <TextField label="Split" value={hfForm.split} onChange={(split) => actions.setHfForm({ split })} />
                <NumberField label="First row" value={hfForm.offset} min={0} onChange={(v) => v !== undefined && actions.setHfForm({ offset: v })} />
                <NumberField label="Rows" value={hfForm.length} min={1} max={5000} onChange={(v) => v !== undefined && actions.setHfForm({ length: v })} />
              </div>
              <TextField
                label="Access token (optional)"
                type="password"
                value={hfForm.token}
                onChange={(token) => actions.setHfForm({ token })}
                hint="Only for gated or private datasets; it is not saved."
              />
              {hfError && (
                <p className="alert alert-error" role="alert">
                  {hfError}
                </p>
              )}
              <button type="submit" className="button button-secondary" disabled={hfStatus === 'loading'}>
                {hfStatus === 'loading' ? 'Fetching rows…' : 'Fetch rows'}
              </button>
            </form>
          </details>
        </>
      )}
    </section>
  );
}

function ImportedRow({ dataset, actions }: { dataset: ImportedDataset; actions: Actions }) {
  return (
    <li className="imported">
      <div className="imported-head">
        <label className="task-check">
          <input type="checkbox" checked={dataset.enabled} onChange={() => actions.toggleImport(dataset.id)} />
          <span className="task-name">{dataset.name}</span>
        </label>
        <label className="task-weight">
          <span className="visually-hidden">Weight of {dataset.name}</span>
          <input
            className="input input-small"
            type="number"
            min={0}
            step="any"
            value={dataset.weight}
            disabled={!dataset.enabled}
            onChange={(e) => {
              const value = Number(e.target.value);
              if (e.target.value !== '' && Number.isFinite(value)) actions.setImportWeight(dataset.id, value);
            }}
          />
        </label>
        <button type="button" className="link-button muted" onClick={() => actions.removeImport(dataset.id)} aria-label={`Remove ${dataset.name}`}>
          Remove
        </button>
      </div>
      <p className="field-hint">
        {dataset.family} · {dataset.examples.length} examples · {dataset.origin}
        {dataset.mapping && (
          <>
            {' '}
            · {dataset.mapping.input.join(' + ')} → {dataset.mapping.answer}
          </>
        )}{' '}
        · real labels, never renamed
      </p>
      {dataset.errors.length > 0 && <RowErrors errors={dataset.errors} />}
    </li>
  );
}

function RowErrors({ errors }: { errors: ImportedDataset['errors'] }) {
  const shown = errors.slice(0, 50);
  return (
    <details className="row-errors" data-testid="import-errors">
      <summary>
        {errors.length} row{errors.length === 1 ? '' : 's'} left out
      </summary>
      <ul>
        {shown.map((e, i) => (
          <li key={i}>
            <span className="row-number">row {e.row}</span> {e.message}
          </li>
        ))}
        {errors.length > shown.length && <li className="muted">and {errors.length - shown.length} more</li>}
      </ul>
    </details>
  );
}

function DraftEditor({ draft, actions }: { draft: ImportDraft; actions: Actions }) {
  const ids = { name: useId(), family: useId(), answer: useId(), id: useId() };
  const { mapping, columns } = draft;
  const setMapping = (patch: Partial<ImportDraft['mapping']>) => actions.updateDraft({ mapping: { ...mapping, ...patch } });
  const toggleInput = (column: string) =>
    setMapping({ input: mapping.input.includes(column) ? mapping.input.filter((c) => c !== column) : [...mapping.input, column] });
  const source =
    draft.kind === 'file'
      ? `${draft.fileName} · ${draft.format === 'csv' ? `CSV, ${DELIMITER_NAMES[draft.delimiter]}` : 'JSONL'}`
      : `${draft.dataset} · ${draft.config} · ${draft.split} · ${draft.rows.rows.length} of ${draft.rows.numRowsTotal.toLocaleString('en-US')} rows`;
  return (
    <form
      className="draft"
      data-testid="import-draft"
      aria-label="Field mapping"
      onSubmit={(e) => {
        e.preventDefault();
        actions.commitDraft();
      }}
    >
      <p className="draft-source">
        <strong>Map the fields</strong> <span className="muted">of {source}</span>
      </p>
      <div className="field-grid">
        <div className="field">
          <label htmlFor={ids.name}>Task name</label>
          <input id={ids.name} className="input" value={draft.name} onChange={(e) => actions.updateDraft({ name: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.family}>Family</label>
          <select id={ids.family} className="input" value={draft.family} onChange={(e) => actions.updateDraft({ family: e.target.value as TaskFamily })}>
            {TASK_FAMILIES.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </div>
      </div>
      <fieldset className="field">
        <legend>Input field(s)</legend>
        <div className="target-checks">
          {columns.map((c) => (
            <label key={c} className="target-check">
              <input type="checkbox" checked={mapping.input.includes(c)} onChange={() => toggleInput(c)} />
              {c}
            </label>
          ))}
        </div>
        <span className="field-hint">Several fields are joined with a line break, in the order ticked.</span>
        {draft.kind === 'file' && draft.format === 'csv' && columns.length === 1 && (
          <span className="field-hint" data-testid="import-one-field">
            Only one field was found, {columns[0].length > 40 ? `${columns[0].slice(0, 40)}…` : columns[0]}: the header line has no comma, tab or
            semicolon between field names. Check that the file has a header row and one separator.
          </span>
        )}
      </fieldset>
      <div className="field-grid">
        <div className="field">
          <label htmlFor={ids.answer}>Answer field</label>
          <select id={ids.answer} className="input" value={mapping.answer} onChange={(e) => setMapping({ answer: e.target.value })}>
            {columns.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.id}>Id field</label>
          <select id={ids.id} className="input" value={mapping.id} onChange={(e) => setMapping({ id: e.target.value })}>
            <option value="">(none)</option>
            {columns.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
      </div>
      {draft.error && (
        <p className="alert alert-error" role="alert" data-testid="import-error">
          {draft.error}
        </p>
      )}
      <div className="button-row">
        <button type="submit" className="button" disabled={columns.length === 0}>
          Import
        </button>
        <button type="button" className="button button-secondary" onClick={() => actions.cancelDraft()}>
          Cancel
        </button>
      </div>
    </form>
  );
}
