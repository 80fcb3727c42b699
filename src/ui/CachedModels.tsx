import { useId, useState } from 'react';
import { formatBytes } from '../util/format';
import type { CachedModel, ModelOrigin } from '../model/sources/library';
import { formatTime } from '../util/format';
import type { StorageUse } from '../store/models';
import type { QuantizeOnLoad, RunConfig } from '../train/run-config';
import './CachedModels.css';

export interface CachedModelListProps {
  models: CachedModel[];
  loaded: boolean;
  storage: StorageUse | null;
  /** The run's base model, to tick the cached one in use. */
  chosen: RunConfig['model'];
  onUse(model: RunConfig['model']): void;
  onDelete(id: string): void;
}

/** The models cached in this browser, as choices of the base model (inside the model radio group). */
export function CachedModelList({ models, loaded, storage, chosen, onUse, onDelete }: CachedModelListProps) {
  return (
    <div className="cached-models" data-testid="cached-models">
      <div className="cached-models-head">
        <span className="cached-models-title">Cached in this browser</span>
        <StorageLine storage={storage} />
      </div>
      {!loaded ? (
        <p className="field-hint">Reading the cached models…</p>
      ) : models.length === 0 ? (
        <p className="field-hint">No models cached yet: add one below, from the Hub, a URL or your files.</p>
      ) : (
        models.map((model) => <CachedModelRow key={model.id} model={model} chosen={chosen} onUse={onUse} onDelete={onDelete} />)
      )}
    </div>
  );
}

function StorageLine({ storage }: { storage: StorageUse | null }) {
  if (!storage) return <span className="field-hint">Storage use unknown</span>;
  return (
    <span className="field-hint" data-testid="storage-estimate">
      {formatBytes(storage.usage)} used of {formatBytes(storage.quota)}
    </span>
  );
}

const QUANTIZE_CHOICES: { value: QuantizeOnLoad | ''; label: string }[] = [
  { value: '', label: 'none' },
  { value: 'Q8_0', label: 'Q8_0' },
  { value: 'Q4_0', label: 'Q4_0' },
];

interface CachedModelRowProps {
  model: CachedModel;
  chosen: RunConfig['model'];
  onUse(model: RunConfig['model']): void;
  onDelete(id: string): void;
}

function CachedModelRow({ model, chosen, onUse, onDelete }: CachedModelRowProps) {
  const quantizeId = useId();
  const [confirming, setConfirming] = useState(false);
  // The quantize choice of a model not in use yet, applied when it is picked.
  const [pendingQuantize, setPendingQuantize] = useState<QuantizeOnLoad | undefined>(undefined);
  const checked = chosen.source === 'cached' && chosen.id === model.id;
  const quantize = checked ? chosen.quantize : pendingQuantize;
  const use = (q: QuantizeOnLoad | undefined) => onUse({ source: 'cached', id: model.id, name: model.name, ...(q && { quantize: q }) });
  return (
    <div className={checked ? 'choice cached-model checked' : 'choice cached-model'} data-testid="cached-model" data-model-id={model.id}>
      <input type="radio" name="model" value={`cached:${model.id}`} checked={checked} aria-label={`Use ${model.name}`} onChange={() => use(quantize)} />
      <span className="choice-body">
        <span className="choice-label">
          <span className="cached-model-name">{model.name}</span> <span className="tag">{model.format === 'gguf' ? 'GGUF' : 'safetensors'}</span>
        </span>
        <span className="choice-hint">
          <span data-testid="cached-model-size">{formatBytes(model.bytes)}</span> · {describeOrigin(model.origin)} · added {formatTime(model.addedAt)}
        </span>
        <span className="cached-model-actions">
          {model.format === 'safetensors' && (
            <span className="quantize-field">
              <label htmlFor={quantizeId}>Quantize on load</label>
              <select
                id={quantizeId}
                className="input input-small"
                value={quantize ?? ''}
                onChange={(e) => {
                  const next = (e.target.value || undefined) as QuantizeOnLoad | undefined;
                  setPendingQuantize(next);
                  if (checked) use(next);
                }}
              >
                {QUANTIZE_CHOICES.map((c) => (
                  <option key={c.value} value={c.value}>
                    {c.label}
                  </option>
                ))}
              </select>
            </span>
          )}
          {confirming ? (
            <span className="delete-confirm" role="group" aria-label={`Delete ${model.name}?`}>
              <span>Delete it and free {formatBytes(model.bytes)}?</span>
              <button type="button" className="link-button danger" data-testid="confirm-delete" onClick={() => onDelete(model.id)}>
                Delete
              </button>
              <button type="button" className="link-button muted" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button type="button" className="link-button muted" aria-label={`Delete ${model.name}`} onClick={() => setConfirming(true)}>
              Delete
            </button>
          )}
        </span>
      </span>
    </div>
  );
}

/** Where a cached model came from, in a few words. */
export function describeOrigin(origin: ModelOrigin): string {
  switch (origin.kind) {
    case 'hub':
      return `Hub: ${origin.repo}${origin.revision === 'main' ? '' : `@${origin.revision}`}`;
    case 'url': {
      try {
        return `URL: ${new URL(origin.url).host}`;
      } catch {
        return `URL: ${origin.url}`;
      }
    }
    case 'file':
      return origin.names.length === 1 ? `local file ${origin.names[0]}` : `${origin.names.length} local files`;
  }
}
