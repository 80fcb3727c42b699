// The training worker: owns the GPU device and runs one training run at a time, off the UI thread.
import { expose } from 'comlink';
import { Gpu } from '../gpu/gpu';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadCachedModel } from '../model/load-cached';
import { httpReader, loadModelFolder } from '../model/load';
import { getModel } from '../model/sources/library';
import { tensorsOf } from '../model/safetensors';
import { indexedDbCheckpoints, loadCheckpoint } from './checkpoints';
import type { TrainEvent } from './protocol';
import type { RunConfig } from './run-config';
import { type BaseModel, RunControl, runTraining } from './session';
import { errorMessage } from '../util/errors';

let gpu: Promise<Gpu> | null = null;
let control: RunControl | null = null;

async function loadBaseModel(gpu: Gpu, config: RunConfig, appBaseUrl: string, onProgress: (done: number, total: number) => void): Promise<BaseModel> {
  if (config.model.source === 'cached') {
    // A model the user brought (Hub, URL or local file): streamed from the browser's cache into GPU buffers.
    const manifest = await getModel(config.model.id);
    if (!manifest) throw new Error(`${config.model.name} is no longer in this browser's model cache: add it again in the model picker`);
    return loadCachedModel(gpu, manifest, { quantize: config.model.quantize, onProgress });
  }
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
      const device = await gpu;
      await runTraining(run, {
        gpu: device,
        loadModel: (config, onProgress) => loadBaseModel(device, config, appBaseUrl, onProgress),
        checkpoints: indexedDbCheckpoints,
        emit: onEvent,
      }, control);
    } catch (error) {
      onEvent({ type: 'status', status: 'error', message: errorMessage(error) });
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
