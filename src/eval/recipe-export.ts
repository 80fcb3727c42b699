// A run's cluster recipe from the app (src/export/recipe): its base model as the app keeps it, the held-out
// prompts of the evaluation protocol, and our engine's first-step loss for the parity check, computed on the GPU.
import { baseWeights } from '../engine/spec';
import { type HostTensor, Model } from '../engine/weights';
import type { BaseSource } from '../export/base';
import { exportRecipe, type RecipeSummary } from '../export/recipe/recipe';
import { runBaseSource } from '../export/run-export';
import type { FolderSink } from '../export/sink';
import type { Gpu } from '../gpu/gpu';
import { loadCachedModel } from '../model/load-cached';
import { getModel } from '../model/sources/library';
import { loadTokenizer } from '../model/tokenizer';
import { firstStepLoss } from '../train/first-step';
import type { RunConfig } from '../train/run-config';
import { recipeTestRows } from './recipe-test';

/** The base model on the GPU: a cached model streamed from the cache, else the base's weights as f32. */
async function gpuModel(gpu: Gpu, model: RunConfig['model'], base: BaseSource): Promise<Model> {
  if (model.source === 'cached') {
    const manifest = await getModel(model.id);
    if (!manifest) throw new Error(`${model.name} is no longer in this browser's model cache`);
    return (await loadCachedModel(gpu, manifest, { quantize: model.quantize })).model;
  }
  const tensors = new Map<string, HostTensor>();
  for (const w of baseWeights(base.spec)) tensors.set(w.name, { shape: w.shape, data: await base.tensor(w.name) });
  return Model.fromTensors(gpu, base.spec, (name) => tensors.get(name));
}

export async function exportRunRecipe(
  gpu: Gpu, config: RunConfig, appBaseUrl: string, folder: FolderSink, onProgress?: (done: number, total: number) => void,
): Promise<RecipeSummary> {
  if (config.mode !== 'lora') throw new Error('a cluster recipe trains a LoRA adapter: this run trains every weight');
  const base = await runBaseSource(config.model, appBaseUrl);
  if (!base.tokenizer) throw new Error('the model has no tokenizer: its contexts cannot be packed');
  const tokenizer = loadTokenizer(base.tokenizer);
  const model = await gpuModel(gpu, config.model, base);
  let engineLoss;
  try {
    engineLoss = await firstStepLoss(gpu, model, config, tokenizer);
  } finally {
    model.destroy();
  }
  const baseIsGguf = config.model.source === 'cached' && (await getModel(config.model.id))?.format === 'gguf';
  return exportRecipe(config, tokenizer, folder, { base, baseIsGguf, testRows: recipeTestRows(config, tokenizer), engineLoss, onProgress });
}
