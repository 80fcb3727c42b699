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
import { loadCheckpoint } from '../train/checkpoints';
import { firstStepLoss } from '../train/first-step';
import { loadInitialAdapter } from '../train/initial-adapter';
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

/**
 * The adapter an imported run started from: kept at import, or (imported before it was kept) its checkpoint while
 * that is still the step-0 one. Undefined for a run that was not imported.
 */
export async function runInitialAdapter(run: { id: string; name: string; importedFrom?: string }): Promise<Float32Array | undefined> {
  if (run.importedFrom === undefined) return undefined;
  const kept = await loadInitialAdapter(run.id);
  if (kept) return kept;
  const checkpoint = await loadCheckpoint(run.id);
  if (checkpoint?.step === 0 && checkpoint.params instanceof Float32Array) return checkpoint.params;
  throw new Error(`${run.name} was imported from ${run.importedFrom} and has trained since; the adapter it started from is not kept: import it again to export its recipe`);
}

/** `initialAdapter`: the flat LoRA parameters an imported run started from (else the run's seed draws them). */
export async function exportRunRecipe(
  gpu: Gpu, config: RunConfig, appBaseUrl: string, folder: FolderSink,
  options: { initialAdapter?: Float32Array; onProgress?: (done: number, total: number) => void } = {},
): Promise<RecipeSummary> {
  if (config.mode !== 'lora') throw new Error('a cluster recipe trains a LoRA adapter: this run trains every weight');
  const base = await runBaseSource(config.model, appBaseUrl);
  if (!base.tokenizer) throw new Error('the model has no tokenizer: its contexts cannot be packed');
  const tokenizer = loadTokenizer(base.tokenizer);
  const model = await gpuModel(gpu, config.model, base);
  let engineLoss;
  try {
    engineLoss = await firstStepLoss(gpu, model, config, tokenizer, options.initialAdapter);
  } finally {
    model.destroy();
  }
  const baseIsGguf = config.model.source === 'cached' && (await getModel(config.model.id))?.format === 'gguf';
  return exportRecipe(config, tokenizer, folder, {
    base, baseIsGguf, testRows: recipeTestRows(config, tokenizer), engineLoss,
    initialAdapter: options.initialAdapter, onProgress: options.onProgress,
  });
}
