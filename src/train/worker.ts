// The training worker: owns the GPU device and runs one training run at a time, off the UI thread.
import { expose } from 'comlink';
import { Gpu } from '../gpu/gpu';
import { loadCachedModel } from '../model/load-cached';
import { getModel } from '../model/sources/library';
import { loadHostBaseModel } from './base-model';
import { indexedDbCheckpoints } from './checkpoints';
import type { TrainEvent } from './protocol';
import type { RunConfig } from './run-config';
import { type BaseModel, GpuDeviceLostError, RunControl, runTraining } from './session';
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
  return loadHostBaseModel(config.model, appBaseUrl, onProgress);
}

/**
 * The worker's device: the open one, or a new one when there is none yet or the last one was lost (also between
 * runs). A device that failed to open is not kept, so the next run tries again.
 */
async function openDevice(): Promise<Gpu> {
  const current = gpu && (await gpu.catch(() => null));
  if (current && !current.lost) return current;
  const opening = Gpu.create();
  gpu = opening;
  try {
    return await opening;
  } catch (error) {
    gpu = null;
    throw error;
  }
}

const api = {
  async start(run: { id: string; config: RunConfig }, appBaseUrl: string, onEvent: (event: TrainEvent) => void): Promise<void> {
    if (control) throw new Error('a run is already training');
    control = new RunControl();
    try {
      await runTraining(run, {
        gpu: await openDevice(),
        // After a lost device the worker's next runs use the new one too.
        reopenGpu: async () => {
          try {
            return await openDevice();
          } catch (error) {
            throw new GpuDeviceLostError(`The GPU device was lost and a new one could not be opened: ${errorMessage(error)}. Reload the page to train again.`, { cause: error });
          }
        },
        loadModel: (config, onProgress, device) => loadBaseModel(device, config, appBaseUrl, onProgress),
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
