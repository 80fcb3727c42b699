// The playground: a prompt continued by the base model and by a trained run, side by side.
import { create } from 'zustand';
import type { PlaygroundResult, StudyClient } from '../eval/study-client';
import type { RunConfig } from '../train/run-config';
import type { RunRecord } from '../train/protocol';
import { errorMessage } from '../util/errors';
import { selectRunConfig, useRunSetupStore } from './run-setup';
import { useRunsStore } from './runs';
import { studyWorkerClient } from './study';

export interface PlaygroundDeps {
  client: () => StudyClient;
  /** The run setup's model: the base when no run is chosen. */
  setupModel: () => RunConfig['model'];
  runs: () => readonly RunRecord[];
}

export interface PlaygroundState {
  prompt: string;
  /** The trained run beside the base model, or null for the base model alone. */
  runId: string | null;
  maxNewTokens: number;
  /** 0 decodes greedily. */
  temperature: number;
  /** Merge the run's LoRA adapter into the weights instead of running it as a branch. */
  merged: boolean;
  /** Also run the model exported to ONNX in onnxruntime-web (greedy). */
  onnx: boolean;
  busy: boolean;
  result: (PlaygroundResult & { runName: string | null }) | null;
  error: string | null;

  set(patch: Partial<Pick<PlaygroundState, 'prompt' | 'runId' | 'maxNewTokens' | 'temperature' | 'merged' | 'onnx'>>): void;
  generate(): Promise<void>;
}

/** Runs whose trained weights the playground can use: those with a checkpoint (an imported adapter's is at step 0). */
export function playgroundRuns(runs: readonly RunRecord[]): RunRecord[] {
  return runs.filter((r) => r.checkpointStep !== undefined);
}

export function createPlaygroundStore(deps: PlaygroundDeps) {
  return create<PlaygroundState>()((set, get) => ({
    prompt: 'q: 12+7\na:',
    runId: null,
    maxNewTokens: 16,
    temperature: 0,
    merged: false,
    onnx: false,
    busy: false,
    result: null,
    error: null,

    set: (patch) => set(patch),

    generate: async () => {
      const { prompt, runId, maxNewTokens, temperature, merged, onnx, busy } = get();
      if (busy) return;
      const run = runId ? deps.runs().find((r) => r.id === runId) ?? null : null;
      if (runId && !run) {
        set({ error: 'That run is gone: choose another.', runId: null });
        return;
      }
      set({ busy: true, error: null });
      try {
        const output = await deps.client().playground({
          prompt, maxNewTokens, temperature, merged, onnx, seed: 1, model: deps.setupModel(), run: run ? { id: run.id, config: run.config } : null,
        });
        set({ result: { ...output, runName: run?.name ?? null } });
      } catch (error) {
        set({ error: errorMessage(error) });
      } finally {
        set({ busy: false });
      }
    },
  }));
}

export const usePlaygroundStore = createPlaygroundStore({
  client: studyWorkerClient,
  setupModel: () => selectRunConfig(useRunSetupStore.getState()).model,
  runs: () => useRunsStore.getState().runs,
});
