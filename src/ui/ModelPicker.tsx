import { type ReactNode, useEffect, useId, useMemo, useState } from 'react';
import { selectRunConfig, useRunSetupStore } from '../store/run-setup';
import { useGpuStore } from '../store/gpu';
import { type SetupPlan, setupPlan, useModelsStore } from '../store/models';
import { formatBytes } from '../util/format';
import { checkpointModels, useRunsStore } from '../store/runs';
import type { RunConfig } from '../train/run-config';
import { CachedModelList } from './CachedModels';
import { ModelSources } from './ModelSources';
import './ModelPicker.css';

const EMBEDDED_MODEL: RunConfig['model'] = { source: 'embedded', id: 'manyicl-tiny' };

/** The base model of the run being set up, wired to the stores. */
export function ModelPicker() {
  const model = useRunSetupStore((s) => s.config.model);
  const runs = useRunsStore((s) => s.runs);
  const checkpoints = useMemo(() => checkpointModels(runs), [runs]);
  const models = useModelsStore((s) => s.models);
  const loaded = useModelsStore((s) => s.loaded);
  const storage = useModelsStore((s) => s.storage);
  const transfer = useModelsStore((s) => s.transfer);
  const error = useModelsStore((s) => s.error);
  const notice = useModelsStore((s) => s.notice);
  const hubToken = useModelsStore((s) => s.hubToken);
  const tokenizerProblems = useModelsStore((s) => s.tokenizerProblems);
  useEffect(() => {
    void useModelsStore.getState().refresh();
  }, []);

  const choose = (m: RunConfig['model']) => useRunSetupStore.getState().chooseModel(m);
  const remove = async (id: string) => {
    await useModelsStore.getState().deleteModel(id);
    const current = useRunSetupStore.getState().config.model;
    const gone = !useModelsStore.getState().models.some((m) => m.id === id);
    if (gone && current.source === 'cached' && current.id === id) choose(EMBEDDED_MODEL);
  };
  return (
    <ModelChoice
      model={model}
      checkpoints={checkpoints}
      onChange={choose}
      cachedModels={
        <>
          <CachedModelList models={models} loaded={loaded} storage={storage} chosen={model} onUse={choose} onDelete={(id) => void remove(id)} />
          <TokenizerFlags models={models} problems={tokenizerProblems} />
        </>
      }
      addModel={<ModelSources transfer={transfer} error={error} notice={notice} hubToken={hubToken} actions={useModelsStore.getState()} />}
      plan={<SetupPlanNote />}
    />
  );
}

/** Cached models whose tokenizer cannot be used: they are listed, but cannot train a run. */
export function TokenizerFlags({ models, problems }: { models: readonly { id: string; name: string }[]; problems: Record<string, string> }) {
  const flagged = models.filter((m) => problems[m.id] !== undefined);
  if (flagged.length === 0) return null;
  return (
    <ul className="messages errors" data-testid="tokenizer-flags">
      {flagged.map((m) => (
        <li key={m.id} data-testid="tokenizer-flag">
          {m.name} has no usable tokenizer ({problems[m.id]}): it cannot train a run. A GGUF needs tokenizer.ggml.* metadata; a
          safetensors model needs tokenizer.json beside it.
        </li>
      ))}
    </ul>
  );
}

/** The memory the run being set up will allocate on the GPU, from the model's headers and the settings. */
function SetupPlanNote() {
  const config = useRunSetupStore(selectRunConfig);
  const limits = useGpuStore((s) => s.adapter?.limits);
  const [plan, setPlan] = useState<SetupPlan | null>(null);
  useEffect(() => {
    let current = true;
    const adapterLimits = limits ? { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize } : undefined;
    const timer = setTimeout(() => void setupPlan(config, adapterLimits).then((p) => current && setPlan(p)), 200);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [config, limits]);
  if (!plan || plan.kind === 'none') return null;
  if (plan.kind === 'error') {
    return (
      <p className="field-hint" data-testid="model-plan">
        No memory plan: {plan.message}
      </p>
    );
  }
  const f = plan.figures;
  return (
    <div className="model-plan" data-testid="model-plan">
      <p className="small-text">
        <strong>GPU memory for this run: {formatBytes(f.total_bytes)}</strong>{' '}
        <span className="muted">
          (weights {formatBytes(f.weights_bytes)}, LoRA with its optimizer state {formatBytes(f.lora_bytes)}, activations{' '}
          {formatBytes(f.activations_bytes)}, loss {formatBytes(f.loss_bytes)}; largest buffer {formatBytes(f.largest_binding_bytes)} of the{' '}
          {formatBytes(plan.maxBinding)} this GPU binds)
        </span>
      </p>
      {plan.problem && (
        <p className="alert alert-error" role="alert">
          {plan.problem}
        </p>
      )}
      {plan.warnings.length > 0 && (
        <ul className="small-text muted" data-testid="model-warnings" aria-label="Defaults the model's files left to the loader">
          {plan.warnings.map((warning) => (
            <li key={warning}>Note: {warning}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export interface ModelChoiceProps {
  model: RunConfig['model'];
  checkpoints: { runId: string; name: string; step: number }[];
  onChange(model: RunConfig['model']): void;
  /** Choices of cached models, shown in the same radio group. */
  cachedModels?: ReactNode;
  /** The forms that add a model to the cache, below the choices. */
  addModel?: ReactNode;
  /** The memory plan of the run being set up, below the choices. */
  plan?: ReactNode;
}

export function ModelChoice({ model, checkpoints, onChange, cachedModels, addModel, plan }: ModelChoiceProps) {
  const embedded = model.source === 'embedded';
  return (
    <section className="panel setup-panel" data-testid="model-picker" aria-labelledby="model-title">
      <h2 className="panel-title" id="model-title">
        Model
      </h2>
      <fieldset className="choices">
        <legend className="visually-hidden">Base model</legend>
        <label className={`choice ${embedded ? 'checked' : ''}`}>
          <input type="radio" name="model" value="embedded" checked={embedded} onChange={() => onChange(EMBEDDED_MODEL)} />
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
        {cachedModels}
      </fieldset>
      {plan}
      {addModel}
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
