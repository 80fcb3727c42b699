import { useEffect, useMemo, useState } from 'react';
import { type Blocker, LORA_TARGETS, QUICK_DEMO, activationDtype, createBlockers, selectCheck, selectRunConfig, tasksByFamily, useRunSetupStore, type RunSetupState } from '../store/run-setup';
import { type DurationEstimate, estimateDuration, formatDuration } from '../store/estimate';
import { isSoftwareAdapter, useGpuStore } from '../store/gpu';
import { defaultRunName, useRunsStore } from '../store/runs';
import type { RunConfig } from '../train/run-config';
import type { RunObjective } from '../train/objectives';
import { NumberField, TextField } from './fields';
import './TaskBuilder.css';

const FAMILY_NAMES: Record<string, string> = {
  classification: 'Classification',
  summarization: 'Summarization',
  qa: 'Question answering',
  nli: 'Natural language inference',
  math: 'Math',
};

const OBJECTIVES: { value: RunObjective; label: string; hint: string }[] = [
  { value: 'manyicl', label: 'ManyICL', hint: 'Many shots per context; every answer is a target.' },
  { value: 'last-answer', label: 'Last answer', hint: 'Same contexts; only the final answer is trained (classic few-shot fine-tuning).' },
  { value: 'zero-shot', label: 'Zero-shot', hint: 'One example per context.' },
  { value: 'dedicated', label: 'Dedicated', hint: 'One adapter per task: Create makes one run per chosen task.' },
];

type Actions = Pick<RunSetupState, 'setConfig' | 'setLora' | 'toggleLoraTarget' | 'toggleTask' | 'setTaskWeight'>;

/** Tasks, objective and hyperparameters of the run being set up, wired to the run-setup store. */
export function TaskBuilder() {
  const config = useRunSetupStore((s) => s.config);
  const weights = useRunSetupStore((s) => s.weights);
  const setupError = useRunSetupStore((s) => s.setupError);
  const runConfig = useRunSetupStore(selectRunConfig);
  const runs = useRunsStore((s) => s.runs);
  const adapter = useGpuStore((s) => s.adapter);
  const software = adapter ? isSoftwareAdapter(adapter) : false;
  const estimate = useMemo(() => estimateDuration(runConfig, runs, adapter ? { software } : null), [runConfig, runs, adapter, software]);
  // The form and the imports as they were before the last reload.
  useEffect(() => {
    void useRunSetupStore.getState().loadSetup();
  }, []);
  return (
    <TaskBuilderForm
      config={config}
      weights={weights}
      actions={useRunSetupStore.getState()}
      estimate={estimate}
      quickDemo={{ software, onApply: () => useRunSetupStore.getState().applyQuickDemo(software) }}
      setupError={setupError}
    />
  );
}

export interface TaskBuilderFormProps {
  config: RunConfig;
  weights: Record<string, number>;
  actions: Actions;
  /** How long a run of these settings takes, and what that is based on. */
  estimate?: DurationEstimate;
  /** The quick demo preset: its sizes depend on whether the adapter runs on the CPU. */
  quickDemo?: { software: boolean; onApply(): void };
  /** Why the saved setup could not be read or written. */
  setupError?: string | null;
}

export function TaskBuilderForm({ config, weights, actions, estimate, quickDemo, setupError }: TaskBuilderFormProps) {
  const chosen = new Set(config.tasks.map((t) => t.task));
  const totalWeight = config.tasks.reduce((sum, t) => sum + (t.weight > 0 ? t.weight : 0), 0);
  const lora = config.mode === 'lora';
  return (
    <section className="panel setup-panel" data-testid="task-builder" aria-labelledby="tasks-title">
      <h2 className="panel-title" id="tasks-title">
        Tasks and training
      </h2>
      {setupError && (
        <p className="alert alert-error" role="alert" data-testid="setup-storage-error">
          {setupError}
        </p>
      )}
      {quickDemo && <QuickDemo {...quickDemo} />}

      <fieldset className="group">
        <legend>Task mixture</legend>
        <p className="field-hint">Each context is drawn from one task, chosen in proportion to the weights.</p>
        {tasksByFamily().map(({ family, tasks }) => (
          <div className="task-family" key={family}>
            <h3 className="family-title">{FAMILY_NAMES[family] ?? family}</h3>
            {tasks.map((task) => {
              const on = chosen.has(task.name);
              const weight = config.tasks.find((t) => t.task === task.name)?.weight ?? weights[task.name] ?? 1;
              return (
                <div className={`task-row ${on ? 'on' : ''}`} key={task.name}>
                  <label className="task-check" title={`e.g. ${task.example.input} → ${task.example.answer}`}>
                    <input type="checkbox" checked={on} onChange={() => actions.toggleTask(task.name)} data-testid={`task-${task.name}`} />
                    <span className="task-name">{task.name}</span>
                  </label>
                  <span className="task-example muted" aria-hidden="true">
                    {task.example.input.length > 38 ? `${task.example.input.slice(0, 36)}…` : task.example.input} →{' '}
                    {task.example.answer}
                  </span>
                  <label className="task-weight">
                    <span className="visually-hidden">Weight of {task.name}</span>
                    <input
                      className="input input-small"
                      type="number"
                      min={0}
                      step="any"
                      value={weight}
                      disabled={!on}
                      onChange={(e) => {
                        const value = Number(e.target.value);
                        if (e.target.value !== '' && Number.isFinite(value)) actions.setTaskWeight(task.name, value);
                      }}
                    />
                  </label>
                  <span className="task-share muted" aria-label={`share of ${task.name}`}>
                    {on && totalWeight > 0 ? `${Math.round((Math.max(0, weight) / totalWeight) * 100)}%` : ''}
                  </span>
                </div>
              );
            })}
          </div>
        ))}
      </fieldset>

      <fieldset className="group">
        <legend>Objective</legend>
        <div className="choices">
          {OBJECTIVES.map((o) => (
            <label key={o.value} className={`choice ${config.objective === o.value ? 'checked' : ''}`}>
              <input
                type="radio"
                name="objective"
                value={o.value}
                checked={config.objective === o.value}
                onChange={() => actions.setConfig({ objective: o.value })}
              />
              <span className="choice-body">
                <span className="choice-label">{o.label}</span>
                <span className="choice-hint">{o.hint}</span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>

      <fieldset className="group">
        <legend>Contexts</legend>
        <div className="field-grid">
          <NumberField label="Context length" value={config.contextLength} min={16} step={16} onChange={(v) => v !== undefined && actions.setConfig({ contextLength: v })} hint="tokens" />
          <NumberField
            label="Max shots"
            value={config.maxShots}
            min={1}
            optional
            placeholder="all that fit"
            onChange={(v) => actions.setConfig({ maxShots: v })}
            hint="per context"
          />
        </div>
        <label className="rename-labels">
          <input
            type="checkbox"
            checked={config.renameLabels ?? true}
            onChange={(e) => actions.setConfig({ renameLabels: e.target.checked })}
            data-testid="rename-labels"
          />
          <span>
            Rename labels in every context
            <span className="field-hint">
              {config.renameLabels ?? true
                ? 'Label tasks (sentiment, topic, nli) call their labels by random words, new in each context ("positive" may be "kite"), so the model can only tell what a label means from the examples before it: that is what trains in-context learning. Untick to keep the real labels.'
                : 'The real labels are kept: the model can learn them by heart, without reading the examples in the context.'}
            </span>
          </span>
        </label>
      </fieldset>

      <fieldset className="group">
        <legend>Training</legend>
        {estimate && <EstimateLine estimate={estimate} />}
        <div className="segmented" role="radiogroup" aria-label="Mode">
          {(['full', 'lora'] as const).map((mode) => (
            <label key={mode} className={config.mode === mode ? 'checked' : ''}>
              <input type="radio" name="mode" value={mode} checked={config.mode === mode} onChange={() => actions.setConfig({ mode })} />
              {mode === 'full' ? 'Full parameters' : 'LoRA'}
            </label>
          ))}
        </div>
        <div className="field-grid">
          <NumberField label="Steps" value={config.steps} min={1} onChange={(v) => v !== undefined && actions.setConfig({ steps: v })} />
          <NumberField label="Batch size" value={config.batchSize} min={1} onChange={(v) => v !== undefined && actions.setConfig({ batchSize: v })} hint="contexts" />
          <NumberField
            label="Accumulation"
            value={config.gradAccumulation}
            min={1}
            onChange={(v) => v !== undefined && actions.setConfig({ gradAccumulation: v })}
            hint="micro-batches per step"
          />
          <NumberField label="Learning rate" value={config.lr} min={0} step="any" onChange={(v) => v !== undefined && actions.setConfig({ lr: v })} />
          <NumberField label="Warmup" value={config.warmupSteps} min={0} onChange={(v) => v !== undefined && actions.setConfig({ warmupSteps: v })} hint="steps" />
          <NumberField label="Seed" value={config.seed} onChange={(v) => v !== undefined && actions.setConfig({ seed: v })} />
          <NumberField
            label="Checkpoint every"
            value={config.checkpointEvery}
            min={1}
            onChange={(v) => v !== undefined && actions.setConfig({ checkpointEvery: v })}
            hint="steps"
          />
        </div>
      </fieldset>

      <fieldset className="group">
        <legend>Memory</legend>
        <label className="memory-option">
          <input type="checkbox" checked={config.recompute} onChange={(e) => actions.setConfig({ recompute: e.target.checked })} data-testid="recompute" />
          <span>
            Recompute each layer in the backward pass
            <span className="field-hint">Keeps only each layer's input: much less memory at long contexts, for about a third more compute per step.</span>
          </span>
        </label>
        <label className="field">
          <span>Saved activations</span>
          <select
            value={activationDtype(config)}
            onChange={(e) => actions.setConfig({ activations: e.target.value as 'f32' | 'f16' })}
            data-testid="activations"
          >
            <option value="f16">f16 (half the memory; f16 matrix products where the GPU has them)</option>
            <option value="f32">f32 (exact)</option>
          </select>
          <span className="field-hint">
            f16 runs multiply the base weights on tensor cores or in f16 arithmetic (f32 sums) once that kernel passes its
            self-test on your GPU; the run's log says which.
          </span>
        </label>
      </fieldset>

      <fieldset className="group" disabled={!lora} aria-describedby={lora ? undefined : 'lora-off'}>
        <legend>LoRA</legend>
        {!lora && (
          <p className="field-hint" id="lora-off">
            Used in LoRA mode.
          </p>
        )}
        <div className="field-grid">
          <NumberField label="Rank" value={config.lora.rank} min={1} onChange={(v) => v !== undefined && actions.setLora({ rank: v })} />
          <NumberField label="Alpha" value={config.lora.alpha} min={0} step="any" onChange={(v) => v !== undefined && actions.setLora({ alpha: v })} />
        </div>
        <div className="target-checks" role="group" aria-label="LoRA target layers">
          {LORA_TARGETS.map((target) => (
            <label key={target} className="target-check">
              <input type="checkbox" checked={config.lora.targets.includes(target)} onChange={() => actions.toggleLoraTarget(target)} />
              {target.replace('_proj', '')}
            </label>
          ))}
        </div>
      </fieldset>
    </section>
  );
}

/** The quick demo preset, sized to the adapter. */
function QuickDemo({ software, onApply }: { software: boolean; onApply(): void }) {
  const sizes = software ? QUICK_DEMO.software : QUICK_DEMO.gpu;
  return (
    <div className="quick-demo" data-testid="quick-demo">
      <button type="button" className="button button-secondary" onClick={onApply} data-testid="quick-demo-apply">
        Quick demo
      </button>
      <span className="field-hint">
        The embedded model, {sizes.steps} steps of {sizes.batchSize === 1 ? 'one context' : `${sizes.batchSize} contexts`} of {sizes.contextLength} tokens
        {software ? ': small, since this GPU is emulated on the CPU.' : '.'}
      </span>
    </div>
  );
}

/** The estimated duration of a run of the settings, with what it is based on. */
export function EstimateLine({ estimate }: { estimate: DurationEstimate }) {
  return (
    <p className="estimate field-hint" data-testid="duration-estimate">
      {estimate.ms !== null ? (
        <>
          <strong>Estimated duration: {formatDuration(estimate.ms)}</strong> (an estimate {estimate.basis}).
        </>
      ) : (
        <>No estimate of the duration yet: {estimate.basis}.</>
      )}
    </p>
  );
}

/** Checks the setup and creates the run, wired to the run-setup store (and the runs store for what it shows). */
export function CreateRun() {
  const config = useRunSetupStore((s) => s.config);
  const runs = useRunsStore((s) => s.runs);
  const activeId = useRunsStore((s) => s.activeId);
  const gpuStatus = useGpuStore((s) => s.status);
  const gpuError = useGpuStore((s) => s.error);
  const check = useRunSetupStore(selectCheck);
  const tokenizerStatus = useRunSetupStore((s) => s.tokenizerStatus);
  const tokenizerError = useRunSetupStore((s) => s.tokenizerError);
  const configFileError = useRunSetupStore((s) => s.configFileError);
  const active = runs.find((r) => r.id === activeId);
  const noGpu = gpuStatus === 'missing' || gpuStatus === 'error' ? `WebGPU is not available here${gpuError ? ` (${gpuError})` : ''}.` : null;
  const blockers = createBlockers({
    check, tokenizerStatus, tokenizerError, model: config.model, noGpu,
    activeRun: activeId ? { id: activeId, name: active?.name ?? activeId, status: active?.status ?? 'running' } : null,
  });
  const [name, setName] = useState('');
  const create = (start: boolean) => {
    useRunSetupStore.getState().createRuns(name, { start });
    setName('');
  };
  return (
    <CreateRunForm
      name={name}
      placeholder={defaultRunName(config, runs)}
      blockers={blockers}
      warnings={check.warnings}
      configFileError={configFileError}
      onName={setName}
      onCreate={create}
      onStopRun={(id) => void useRunsStore.getState().stopRun(id)}
      onConfigFile={(fileName, text) => useRunSetupStore.getState().loadConfigFile(fileName, text)}
    />
  );
}

export interface CreateRunFormProps {
  name: string;
  placeholder: string;
  blockers: Blocker[];
  warnings: string[];
  configFileError: string | null;
  onName(name: string): void;
  onCreate(start: boolean): void;
  onStopRun(runId: string): void;
  onConfigFile(fileName: string, text: string): void;
}

export function CreateRunForm(props: CreateRunFormProps) {
  const { blockers } = props;
  const createBlocked = blockers.some((b) => !b.startOnly);
  const startBlocked = blockers.length > 0;
  return (
    <section className="panel setup-panel create-run" aria-labelledby="create-title">
      <h2 className="panel-title" id="create-title">
        Create a run
      </h2>
      <TextField label="Name" value={props.name} onChange={props.onName} placeholder={props.placeholder} testId="run-name" />
      {createBlocked && (
        <ul className="messages errors create-blockers" role="alert" data-testid="setup-errors">
          {blockers.filter((b) => !b.startOnly).map((b) => (
            <li key={b.message}>{b.message}</li>
          ))}
        </ul>
      )}
      {/* What only keeps the run from starting now (a run training, no WebGPU) is news, not an error. */}
      {blockers.some((b) => b.startOnly) && (
        <ul className="messages notices create-blockers" role="status" data-testid="start-blockers">
          {blockers.filter((b) => b.startOnly).map((b) => (
            <li key={b.message}>
              {b.message}
              {b.action && (
                <>
                  {' '}
                  <button type="button" className="button button-secondary button-inline" onClick={() => props.onStopRun(b.action!.runId)} data-testid="stop-active-run">
                    {b.action.label}
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {props.warnings.length > 0 && (
        <ul className="messages warnings">
          {props.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      <div className="button-row">
        <button type="button" className="button" disabled={startBlocked} onClick={() => props.onCreate(true)} data-testid="create-and-start">
          Create and start
        </button>
        <button type="button" className="button button-secondary" disabled={createBlocked} onClick={() => props.onCreate(false)} data-testid="create-run">
          Create
        </button>
      </div>
      <label className="field config-file">
        <span>Or load a run config file (.json)</span>
        <input
          type="file"
          accept=".json,application/json"
          data-testid="run-config-file"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) props.onConfigFile(file.name, await file.text());
            e.target.value = '';
          }}
        />
      </label>
      {props.configFileError && (
        <p className="alert alert-error" role="alert" data-testid="run-config-file-error">
          {props.configFileError}
        </p>
      )}
    </section>
  );
}
