import { useMemo } from 'react';
import { playgroundRuns, usePlaygroundStore } from '../store/playground';
import { useRunsStore } from '../store/runs';
import './PlaygroundPanel.css';

/** A prompt, continued by the base model and by a trained run side by side. */
export function PlaygroundPanel() {
  const state = usePlaygroundStore();
  const allRuns = useRunsStore((s) => s.runs);
  const runs = useMemo(() => playgroundRuns(allRuns), [allRuns]);
  const { set, generate } = usePlaygroundStore.getState();
  return (
    <section className="panel" data-testid="playground" aria-labelledby="playground-title">
      <div className="panel-head">
        <h2 className="panel-title" id="playground-title">
          Playground
        </h2>
      </div>
      <label className="field">
        <span>Prompt</span>
        <textarea data-testid="playground-prompt" rows={3} value={state.prompt} onChange={(e) => set({ prompt: e.target.value })} />
      </label>
      <div className="playground-options">
        <label className="field">
          <span>Beside the base model</span>
          <select data-testid="playground-run" value={state.runId ?? ''} onChange={(e) => set({ runId: e.target.value || null })}>
            <option value="">nothing (the base model alone)</option>
            {runs.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} (step {r.checkpointStep})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>New tokens</span>
          <input type="number" min={1} data-testid="playground-tokens" value={state.maxNewTokens} onChange={(e) => set({ maxNewTokens: Math.max(1, Number(e.target.value) || 1) })} />
        </label>
        <label className="field">
          <span>LoRA</span>
          <span>
            <input type="checkbox" data-testid="playground-merged" checked={state.merged} onChange={(e) => set({ merged: e.target.checked })} /> merged into the weights
          </span>
        </label>
        <label className="field">
          <span>ONNX export</span>
          <span>
            <input type="checkbox" data-testid="playground-onnx" checked={state.onnx} onChange={(e) => set({ onnx: e.target.checked })} /> also run it in
            onnxruntime-web (greedy)
          </span>
        </label>
        <label className="field">
          <span>Temperature (0: greedy)</span>
          <input type="number" min={0} step={0.1} data-testid="playground-temperature" value={state.temperature} onChange={(e) => set({ temperature: Math.max(0, Number(e.target.value) || 0) })} />
        </label>
      </div>
      <div className="button-row">
        <button type="button" className="button primary" data-testid="playground-generate" disabled={state.busy || state.prompt === ''} onClick={() => void generate()}>
          {state.busy ? 'Generating…' : 'Generate'}
        </button>
      </div>
      {state.error && (
        <p className="error" role="alert">
          {state.error}
        </p>
      )}
      {state.result && (
        <div className="playground-outputs">
          <Output title="Base model" testId="playground-base" output={state.result.base} />
          {state.result.adapted && <Output title={state.result.runName ?? 'Trained run'} testId="playground-adapted" output={state.result.adapted} />}
          {state.result.onnx && (
            <Output
              title={`${state.result.runName ?? 'Base model'}, exported to ONNX (onnxruntime-web, ${state.result.onnx.backend})`}
              testId="playground-onnx-output"
              output={state.result.onnx}
            />
          )}
        </div>
      )}
    </section>
  );
}

function Output({ title, testId, output }: { title: string; testId: string; output: { text: string; tokens: number; tokensPerSecond: number } }) {
  return (
    <figure className="playground-output" data-testid={testId}>
      <figcaption>
        {title} <span className="muted">· {output.tokens} tokens · {output.tokensPerSecond.toFixed(1)} tokens/s</span>
      </figcaption>
      <pre>{output.text}</pre>
    </figure>
  );
}
