// Base models held in memory as f32 tensors: the embedded model, and full-parameter checkpoints of runs made here
// (the embedded architecture with that run's weights). Training sessions and studies load them the same way.
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { httpReader, loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import { loadCheckpoint } from './checkpoints';
import type { RunConfig } from './run-config';
import type { HostBaseModel } from './session';

export async function loadHostBaseModel(
  model: Exclude<RunConfig['model'], { source: 'cached' }>, appBaseUrl: string, onProgress: (done: number, total: number) => void,
): Promise<HostBaseModel> {
  const folder = await loadModelFolder(httpReader(new URL(`${EMBEDDED_MODEL_PATH}/`, appBaseUrl).href), onProgress);
  const fromFile = tensorsOf(folder.weights);
  if (model.source === 'embedded') return { spec: folder.spec, tensors: fromFile, tokenizer: folder.tokenizer };
  const trained = await loadCheckpoint(model.runId);
  if (!trained || trained.mode !== 'full') throw new Error(`run ${model.runId} has no full-parameter checkpoint to start from`);
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
