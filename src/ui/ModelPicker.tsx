import { useId, useMemo } from 'react';
import { useDatasetStore } from '../store/dataset';
import { checkpointModels, useRunsStore } from '../store/runs';
import type { RunConfig } from '../train/protocol';

/** The base model of the run being set up, wired to the stores. */
export function ModelPicker() {
  const model = useDatasetStore((s) => s.config.model);
  const runs = useRunsStore((s) => s.runs);
  const checkpoints = useMemo(() => checkpointModels(runs), [runs]);
  return <ModelChoice model={model} checkpoints={checkpoints} onChange={(m) => useDatasetStore.getState().chooseModel(m)} />;
}

export interface ModelChoiceProps {
  model: RunConfig['model'];
  checkpoints: { runId: string; name: string; step: number }[];
  onChange(model: RunConfig['model']): void;
}

const COMING = [
  { id: 'hub', label: 'Hugging Face Hub', hint: 'Llama and Mistral models by repository name' },
  { id: 'url', label: 'URL', hint: 'a model folder served over HTTPS' },
  { id: 'file', label: 'Local files', hint: 'safetensors or GGUF from this computer' },
];

export function ModelChoice({ model, checkpoints, onChange }: ModelChoiceProps) {
  const embedded = model.source === 'embedded';
  return (
    <section className="panel setup-panel" data-testid="model-picker" aria-labelledby="model-title">
      <h2 className="panel-title" id="model-title">
        Model
      </h2>
      <fieldset className="choices">
        <legend className="visually-hidden">Base model</legend>
        <label className={`choice ${embedded ? 'checked' : ''}`}>
          <input
            type="radio"
            name="model"
            value="embedded"
            checked={embedded}
            onChange={() => onChange({ source: 'embedded', id: 'manyicl-tiny' })}
          />
          <span className="choice-body">
            <span className="choice-label">
              manyicl-tiny <span className="tag">embedded</span>
            </span>
            <span className="choice-hint">
              A 4-layer Llama with a character tokenizer, shipped with the app. Random init: first train it in
              full-parameter mode, then fine-tune with LoRA.
            </span>
          </span>
        </label>
        <CheckpointChoice model={model} checkpoints={checkpoints} onChange={onChange} />
        {COMING.map((c) => (
          <label key={c.id} className="choice disabled">
            <input type="radio" name="model" value={c.id} disabled />
            <span className="choice-body">
              <span className="choice-label">
                {c.label} <span className="tag tag-muted">coming</span>
              </span>
              <span className="choice-hint">{c.hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
    </section>
  );
}

/** A full-parameter run's checkpoint as the base model: a radio, with the run chosen in a select. */
function CheckpointChoice({ model, checkpoints, onChange }: ModelChoiceProps) {
  const selectId = useId();
  const checked = model.source === 'checkpoint';
  const chosen = checked ? model.runId : (checkpoints[0]?.runId ?? '');
  const none = checkpoints.length === 0;
  return (
    <div className={`choice ${checked ? 'checked' : ''} ${none ? 'disabled' : ''}`}>
      <input
        type="radio"
        name="model"
        value="checkpoint"
        checked={checked}
        disabled={none}
        aria-label="A trained run"
        onChange={() => chosen && onChange({ source: 'checkpoint', runId: chosen })}
      />
      <span className="choice-body">
        <span className="choice-label">A trained run</span>
        {none ? (
          <span className="choice-hint">Appears once a full-parameter run has saved a checkpoint.</span>
        ) : (
          <>
            <label className="visually-hidden" htmlFor={selectId}>
              Run whose checkpoint is the base model
            </label>
            <select
              id={selectId}
              className="input checkpoint-select"
              value={chosen}
              onChange={(e) => onChange({ source: 'checkpoint', runId: e.target.value })}
            >
              {checkpoints.map((c) => (
                <option key={c.runId} value={c.runId}>
                  {c.name} · step {c.step}
                </option>
              ))}
            </select>
            <span className="choice-hint">manyicl-tiny as that run trained it: fine-tune it with LoRA.</span>
          </>
        )}
      </span>
    </div>
  );
}
