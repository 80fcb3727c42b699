// The study worker: runs one ManyICL study off the UI thread on its own GPU device, unit by unit, handing each
// finished unit to the page (which keeps it in IndexedDB) so that a reload or a crash resumes where it stopped.
import { expose, transfer } from 'comlink';
import { Gpu } from '../gpu/gpu';
import { loadCachedModel } from '../model/load-cached';
import { getModel } from '../model/sources/library';
import { loadHostBaseModel } from '../train/base-model';
import { loadCheckpoint } from '../train/checkpoints';
import type { RunConfig } from '../train/run-config';
import { runBaseSource, runWeights } from '../export/run-export';
import { zipFiles } from '../export/peft';
import { directoryFolder, memoryFolder } from '../export/sink';
import { exportRunRecipe, runInitialAdapter } from './recipe-export';
import { type Adapted, type OnnxPlaygroundOutput, type PlaygroundOptions, type PlaygroundOutput, continuePrompt, continueWithOnnx } from './playground';
import { errorMessage } from '../util/errors';
import { type StudyConfig, type StudyEvent, type StudyUnit, runStudy } from './study';

let gpu: Promise<Gpu> | null = null;
/** Downloads are built in memory: past this, the user is asked to pick a folder instead. */
const RECIPE_DOWNLOAD_LIMIT_BYTES = 1.5 * 1024 ** 3;
let busy = false;

/** A playground request: the base model, and optionally a trained run to set beside it. */
export interface PlaygroundRequest extends PlaygroundOptions {
  prompt: string;
  model: RunConfig['model'];
  run: { id: string; config: RunConfig } | null;
}

/** The base model's continuation, the run's beside it, and the ONNX export's when asked for. */
export interface PlaygroundResult {
  base: PlaygroundOutput;
  adapted: PlaygroundOutput | null;
  onnx: OnnxPlaygroundOutput | null;
}

/** A model from the browser's model cache, streamed onto the GPU (studied with LoRA adapters). */
async function loadCached(device: Gpu, model: Extract<RunConfig['model'], { source: 'cached' }>) {
  const manifest = await getModel(model.id);
  if (!manifest) throw new Error(`${model.name} is no longer in this browser's model cache: add it again in the model picker`);
  return loadCachedModel(device, manifest, { quantize: model.quantize });
}

async function adaptedOf(run: { id: string; config: RunConfig }, appBaseUrl: string): Promise<Adapted> {
  const checkpoint = await loadCheckpoint(run.id);
  if (!checkpoint) throw new Error(`run ${run.id} has no checkpoint yet: train it for a few steps first`);
  if (checkpoint.mode === 'full') return { model: await loadHostBaseModel({ source: 'checkpoint', runId: run.id }, appBaseUrl, () => {}) };
  return { lora: run.config.lora, params: checkpoint.params as Float32Array };
}

const api = {
  async run(config: StudyConfig, completed: StudyUnit[], appBaseUrl: string, onEvent: (event: StudyEvent) => void): Promise<void> {
    if (busy) throw new Error('a study is already running');
    busy = true;
    try {
      const { model } = config.run;
      onEvent({ type: 'log', line: 'loading the model' });
      gpu ??= Gpu.create();
      const device = await gpu;
      const base = model.source === 'cached' ? await loadCached(device, model) : await loadHostBaseModel(model, appBaseUrl, () => {});
      try {
        await runStudy(device, base, config, {
          completed: new Map(completed.map((unit) => [unit.key, unit])),
          onUnit: (unit) => onEvent({ type: 'unit', unit }),
          onProgress: (done, total) => onEvent({ type: 'progress', done, total }),
          log: (line) => onEvent({ type: 'log', line }),
        });
      } finally {
        if ('model' in base) base.model.destroy();
      }
      onEvent({ type: 'status', status: 'done' });
    } catch (error) {
      onEvent({ type: 'status', status: 'error', message: errorMessage(error) });
    } finally {
      busy = false;
    }
  },

  /** The prompt continued by the base model and, when a run is given, by that run's trained weights. */
  async playground(request: PlaygroundRequest, appBaseUrl: string): Promise<PlaygroundResult> {
    const model = request.run ? request.run.config.model : request.model;
    gpu ??= Gpu.create();
    const device = await gpu;
    const adapted = request.run ? await adaptedOf(request.run, appBaseUrl) : null;
    const base = model.source === 'cached' ? await loadCached(device, model) : await loadHostBaseModel(model, appBaseUrl, () => {});
    try {
      // The base first: merging the adapter into a model from the cache changes it (it is freed right after).
      const baseOutput = await continuePrompt(device, base, null, request.prompt, request);
      const adaptedOutput = adapted ? await continuePrompt(device, base, adapted, request.prompt, request) : null;
      let onnx: OnnxPlaygroundOutput | null = null;
      if (request.onnx) {
        const source = await runBaseSource(model, appBaseUrl);
        const weights = request.run ? await runWeights({ ...request.run, name: request.run.id }, source) : { base: source, adapter: null };
        onnx = await continueWithOnnx(weights.base, weights.adapter, base.tokenizer, request.prompt, request.maxNewTokens);
      }
      return { base: baseOutput, adapted: adaptedOutput, onnx };
    } finally {
      if ('model' in base) base.model.destroy();
    }
  },
  /**
   * The run's cluster recipe (TRL + accelerate), with our engine's first-step loss for its parity check: into the
   * folder the user picked, or in memory as a zip to download.
   */
  async recipe(
    run: { id: string; name: string; config: RunConfig; importedFrom?: string }, folder: FileSystemDirectoryHandle | null, appBaseUrl: string,
    onProgress: (done: number, total: number) => void,
  ): Promise<{ fileName: string; bytes: Uint8Array } | null> {
    gpu ??= Gpu.create();
    const device = await gpu;
    const tooLarge = 'the recipe holds the model, too large to build in memory for a download: use "Save to folder" (Chrome, Edge)';
    const memory = memoryFolder(RECIPE_DOWNLOAD_LIMIT_BYTES, tooLarge);
    const initialAdapter = await runInitialAdapter(run);
    await exportRunRecipe(device, run.config, appBaseUrl, folder ? directoryFolder(folder) : memory, { initialAdapter, onProgress });
    if (folder) return null;
    const download = { fileName: `${run.name.replace(/[^\w.-]+/g, '-')}-recipe.zip`, bytes: zipFiles(memory.files) };
    return transfer(download, [download.bytes.buffer]);
  },
};

export type StudyWorkerApi = typeof api;

export type { PlaygroundOutput };

expose(api);
