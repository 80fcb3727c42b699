// The training worker: owns the GPU device and runs one training run at a time, off the UI thread.
import { expose } from 'comlink';
import { Gpu } from '../gpu/gpu';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { httpReader, loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import { indexedDbCheckpoints, loadCheckpoint } from './checkpoints';
import type { RunConfig, TrainEvent } from './protocol';
import { type BaseModel, RunControl, runTraining } from './session';

let gpu: Promise<Gpu> | null = null;
let control: RunControl | null = null;

async function loadBaseModel(config: RunConfig, appBaseUrl: string, onProgress: (done: number, total: number) => void): Promise<BaseModel> {
  const folder = await loadModelFolder(httpReader(new URL(`${EMBEDDED_MODEL_PATH}/`, appBaseUrl).href), onProgress);
  const fromFile = tensorsOf(folder.weights);
  if (config.model.source === 'embedded') return { spec: folder.spec, tensors: fromFile, tokenizer: folder.tokenizer };
  // A model trained here in full-parameter mode: the embedded architecture with that run's weights.
  const trained = await loadCheckpoint(config.model.runId);
  if (!trained || trained.mode !== 'full') throw new Error(`run ${config.model.runId} has no full-parameter checkpoint to start from`);
  const weights = trained.params as Record<string, Float32Array>;
  return {
    spec: folder.spec,
    tokenizer: folder.tokenizer,
    tensors: (name) => {
      const t = fromFile(name);
      return t && weights[name] ? { shape: t.shape, data: weights[name] } : t;
    },
  };
}

const api = {
  async start(run: { id: string; config: RunConfig }, appBaseUrl: string, onEvent: (event: TrainEvent) => void): Promise<void> {
    if (control) throw new Error('a run is already training');
    control = new RunControl();
    try {
      gpu ??= Gpu.create();
      await runTraining(run, {
        gpu: await gpu,
        loadModel: (config, onProgress) => loadBaseModel(config, appBaseUrl, onProgress),
        checkpoints: indexedDbCheckpoints,
        emit: onEvent,
      }, control);
    } catch (error) {
      onEvent({ type: 'status', status: 'error', message: error instanceof Error ? error.message : String(error) });
    } finally {
      control = null;
    }
  },
  pause: () => control?.pause(),
  resume: () => control?.resume(),
  stop: () => control?.stop(),
};

export type TrainingWorkerApi = typeof api;

expose(api);
