import { useState } from 'react';
import { LORA_TARGETS, selectCheck, tasksByFamily, useRunSetupStore, type RunSetupState } from '../store/run-setup';
import { useGpuStore } from '../store/gpu';
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
  return <TaskBuilderForm config={config} weights={weights} actions={useRunSetupStore.getState()} />;
}

export interface TaskBuilderFormProps {
  config: RunConfig;
  weights: Record<string, number>;
  actions: Actions;
}

export function TaskBuilderForm({ config, weights, actions }: TaskBuilderFormProps) {
  const chosen = new Set(config.tasks.map((t) => t.task));
  const totalWeight = config.tasks.reduce((sum, t) => sum + (t.weight > 0 ? t.weight : 0), 0);
  const lora = config.mode === 'lora';
  return (
    <section className="panel setup-panel" data-testid="task-builder" aria-labelledby="tasks-title">
      <h2 className="panel-title" id="tasks-title">
        Tasks and training
      </h2>

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
      </fieldset>

      <fieldset className="group">
        <legend>Training</legend>
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

/** Checks the setup and creates the run, wired to the run-setup store (and the runs store for what it shows). */
export function CreateRun() {
  const config = useRunSetupStore((s) => s.config);
  const runs = useRunsStore((s) => s.runs);
  const activeId = useRunsStore((s) => s.activeId);
  const gpuStatus = useGpuStore((s) => s.status);
  const noGpu = gpuStatus === 'missing' || gpuStatus === 'error';
  const check = useRunSetupStore(selectCheck);
  const configFileError = useRunSetupStore((s) => s.configFileError);
  const [name, setName] = useState('');
  const create = (start: boolean) => {
    useRunSetupStore.getState().createRuns(name, { start });
    setName('');
  };
  return (
    <section className="panel setup-panel create-run" aria-labelledby="create-title">
      <h2 className="panel-title" id="create-title">
        Create a run
      </h2>
      <TextField label="Name" value={name} onChange={setName} placeholder={defaultRunName(config, runs)} testId="run-name" />
      {check.errors.length > 0 && (
        <ul className="messages errors" role="alert" data-testid="setup-errors">
          {check.errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
      {check.warnings.length > 0 && (
        <ul className="messages warnings">
          {check.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      <div className="button-row">
        <button type="button" className="button" disabled={check.errors.length > 0 || activeId !== null || noGpu} onClick={() => create(true)} data-testid="create-and-start">
          Create and start
        </button>
        <button type="button" className="button button-secondary" disabled={check.errors.length > 0} onClick={() => create(false)} data-testid="create-run">
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
            if (file) useRunSetupStore.getState().loadConfigFile(file.name, await file.text());
            e.target.value = '';
          }}
        />
      </label>
      {configFileError && (
        <p className="alert alert-error" role="alert" data-testid="run-config-file-error">
          {configFileError}
        </p>
      )}
      {activeId !== null && <p className="field-hint">A run is training; new runs can be created and started after it.</p>}
      {noGpu && <p className="field-hint">WebGPU is not available here: runs can be created, but not trained in this browser.</p>}
    </section>
  );
}
