// The headless trainer's base model, from a folder on disk, and what a finished run writes: a PEFT adapter, or
// for a full-parameter run the trained model as an HF folder.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { LoraConfig } from '../engine/peft';
import { loraTensorShapes } from '../engine/peft';
import { baseWeightShapes } from '../engine/spec';
import { hostAdapterOfFlat } from '../export/adapter';
import { modelCard, peftFilesOf } from '../export/peft';
import { hfConfigJson } from '../model/config';
import { tokenizerJsonFromGguf } from '../model/gguf/tokenizer';
import { loadModelFolder, loadTokenizerFiles } from '../model/load';
import { tensorsOf, writeSafetensors } from '../model/safetensors';
import { loadTokenizer } from '../model/tokenizer';
import { caseModel, readGgufBaseModel } from '../reference/case';
import type { Gpu } from '../gpu/gpu';
import { errorMessage } from '../util/errors';
import type { Checkpoint } from '../train/checkpoints';
import type { RunConfig } from '../train/run-config';
import type { BaseModel } from '../train/session';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/**
 * A model folder's base model: model.gguf (its linear layers stay quantized on the GPU; LoRA only), or
 * config.json + model.safetensors (f32 in memory). Tokenizer files come from the folder, or for GGUF from its
 * metadata when the folder has none.
 */
export async function loadBaseFolder(gpu: Gpu, dir: string): Promise<BaseModel> {
  const read = async (name: string) => {
    try {
      return new Uint8Array(await readFile(join(dir, name)));
    } catch {
      throw new Error(`${dir}: cannot read ${name}`);
    }
  };
  if (existsSync(join(dir, 'model.gguf'))) {
    const { spec, weights, gguf } = await readGgufBaseModel(await read('model.gguf')).catch((error: Error) => {
      throw new Error(`${join(dir, 'model.gguf')}: ${error.message}`);
    });
    const tokenizer = existsSync(join(dir, 'tokenizer.json'))
      ? await loadTokenizerFiles(read)
      : (() => {
          try {
            return loadTokenizer(tokenizerJsonFromGguf(gguf.header.metadata));
          } catch (error) {
            throw new Error(`${dir}: no tokenizer.json + tokenizer_config.json, and model.gguf has no usable tokenizer (${errorMessage(error)})`);
          }
        })();
    return { spec, tokenizer, model: caseModel(gpu, { spec, weights, gguf }) };
  }
  if (!existsSync(join(dir, 'config.json')) || !existsSync(join(dir, 'model.safetensors'))) {
    throw new Error(`${dir}: no model.gguf, and no config.json + model.safetensors (a sharded checkpoint must be merged into one model.safetensors first)`);
  }
  const folder = await loadModelFolder(read);
  return { spec: folder.spec, tokenizer: folder.tokenizer, tensors: tensorsOf(folder.weights) };
}

/** Refuses a checkpoint made on another model (or LoRA shape) than the one loaded. */
export function checkCheckpointFits(base: BaseModel, lora: LoraConfig, checkpoint: Checkpoint, where: string): void {
  const other = `was made for another model: resume with the same --model as the run it continues`;
  if (checkpoint.params instanceof Float32Array) {
    const count = loraTensorShapes(base.spec, lora).reduce((n, t) => n + t.shape[0] * t.shape[1], 0);
    if (count !== checkpoint.params.length) throw new Error(`${where} holds ${checkpoint.params.length} LoRA values, this model and LoRA config take ${count}: it ${other}`);
    return;
  }
  const shapes = baseWeightShapes(base.spec);
  for (const [name, data] of Object.entries(checkpoint.params)) {
    const shape = shapes.get(name);
    if (!shape || shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`${where}: weight ${name} does not fit this model: it ${other}`);
  }
}

/** Writes a folder's files next to it, then renames the whole folder into place. */
async function writeFolder(out: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const partial = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(partial, name), bytes);
  await rm(out, { recursive: true, force: true });
  await rename(partial, out);
}

export interface RunResult {
  config: RunConfig;
  checkpoint: Checkpoint;
  base: BaseModel;
  /** What the base model is called in the adapter's config and card. */
  baseName: string;
  /** The folder the base model came from (its tokenizer files are copied for a full-parameter run). */
  modelDir: string;
  final: { loss: number | null; taskLoss: Record<string, number> };
}

/** DIR/adapter (PEFT, with a model card) for a LoRA run, DIR/model (HF safetensors folder) for a full one. */
export async function writeRunResult(dir: string, r: RunResult): Promise<string> {
  const { config, checkpoint, base } = r;
  if (checkpoint.params instanceof Float32Array) {
    const out = join(dir, 'adapter');
    const files = peftFilesOf(hostAdapterOfFlat(base.spec, config.lora, checkpoint.params), r.baseName);
    const readme = modelCard({
      title: `ManyICL adapter of ${r.baseName}`, baseModel: r.baseName, baseModelOnHub: false, objective: config.objective,
      tasks: [...config.tasks, ...(config.datasets ?? []).map((d) => ({ task: d.name, weight: d.weight }))],
      lora: config.lora, steps: checkpoint.step, contextLength: config.contextLength,
      tokens: checkpoint.step * config.batchSize * config.gradAccumulation * config.contextLength,
      finalLoss: r.final.loss, finalTaskLosses: r.final.taskLoss,
    });
    await writeFolder(out, { ...files, 'README.md': readme });
    return out;
  }
  if (!('tensors' in base)) throw new Error('a full-parameter run needs its base model in memory');
  const trained = checkpoint.params;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, shape] of baseWeightShapes(base.spec)) {
    const data = trained[name] ?? base.tensors(name)?.data;
    if (!data) throw new Error(`the model has no weight ${name}`);
    tensors[name] = { shape, data };
  }
  const files: Record<string, Uint8Array | string> = {
    'model.safetensors': writeSafetensors(tensors, { format: 'pt' }),
    'config.json': `${JSON.stringify(hfConfigJson(base.spec), null, 2)}\n`,
  };
  for (const name of TOKENIZER_FILES) {
    if (existsSync(join(r.modelDir, name))) files[name] = new Uint8Array(await readFile(join(r.modelDir, name)));
  }
  const out = join(dir, 'model');
  await writeFolder(out, files);
  return out;
}
