// Exports of a run made in the app: its base model and trained weights found where the app keeps them (the
// embedded model's folder, the model cache, the run's checkpoint in IndexedDB), written in one of the formats.
import { bytesRangeSource } from '../model/gguf/reader';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { cachedHostTensors, safetensorsHostTensors } from '../model/host-tensors';
import { httpReader } from '../model/load';
import { getModel } from '../model/sources/library';
import { loadCheckpoint } from '../train/checkpoints';
import type { RunRecord } from '../train/protocol';
import { type RunConfig, describeModel } from '../train/run-config';
import { type HostAdapter, hostAdapterOfFlat } from './adapter';
import { type BaseSource, transformersRepo } from './base';
import { type ExportFormat, type ExportOptions, exportModel } from './formats';
import { type ModelCardInfo, modelCard } from './peft';
import type { FolderSink } from './sink';

/** The base model of a run as a BaseSource (a full-parameter run's base is the embedded model). */
export async function runBaseSource(model: RunConfig['model'], appBaseUrl: string): Promise<BaseSource> {
  if (model.source === 'cached') {
    const manifest = await getModel(model.id);
    if (!manifest) throw new Error(`${model.name} is no longer in this browser's model cache: add it again in the model picker`);
    const host = await cachedHostTensors(manifest);
    return { ...host, repo: manifest.origin.kind === 'hub' ? manifest.origin.repo : undefined, repoHoldsGguf: manifest.format === 'gguf' };
  }
  const read = httpReader(new URL(`${EMBEDDED_MODEL_PATH}/`, appBaseUrl).href);
  const [config, weights, tokenizer, tokenizerConfig] = await Promise.all(
    ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((name) => read(name)),
  );
  const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  const host = await safetensorsHostTensors([{ name: 'model.safetensors', source: bytesRangeSource(weights) }], config, {
    tokenizer: json(tokenizer), config: json(tokenizerConfig),
  });
  if (model.source === 'embedded') return host;
  const trained = await loadCheckpoint(model.runId);
  if (!trained || trained.mode !== 'full') throw new Error(`run ${model.runId} has no full-parameter checkpoint`);
  return withWeights(host, trained.params as Record<string, Float32Array>);
}

function withWeights(base: BaseSource, weights: Record<string, Float32Array>): BaseSource {
  return { ...base, tensor: async (name) => weights[name]?.slice() ?? base.tensor(name) };
}

/** What a run trained: a LoRA adapter, or (full-parameter runs) the weights that replace the base model's. */
export async function runWeights(run: Pick<RunRecord, 'id' | 'name' | 'config'>, base: BaseSource): Promise<{ base: BaseSource; adapter: HostAdapter | null }> {
  const checkpoint = await loadCheckpoint(run.id);
  if (!checkpoint) throw new Error(`${run.name} has no checkpoint yet: train it for at least ${run.config.checkpointEvery} steps first`);
  if (checkpoint.mode === 'full') return { base: withWeights(base, checkpoint.params as Record<string, Float32Array>), adapter: null };
  return { base, adapter: hostAdapterOfFlat(base.spec, run.config.lora, checkpoint.params as Float32Array) };
}

/** The model card of a run's adapter; `evaluation` is a Markdown table from a study, when there is one. */
export function runModelCard(run: RunRecord, base: BaseSource, evaluation?: ModelCardInfo['evaluation']): string {
  const { config } = run;
  // The weights exported are the checkpoint's: its step's losses, not those of steps trained after it.
  const steps = run.checkpointStep ?? run.metrics.at(-1)?.step ?? 0;
  const last = run.metrics.filter((m) => m.step <= steps).at(-1);
  const hubRepo = transformersRepo(base);
  const ggufOfRepo = base.repoHoldsGguf && base.repo ? `, a GGUF file of the Hub repo ${base.repo}` : '';
  return modelCard({
    title: run.name,
    baseModel: hubRepo ?? `${describeModel(config.model)}${ggufOfRepo}`,
    baseModelOnHub: hubRepo !== undefined,
    objective: config.objective,
    tasks: [...config.tasks, ...(config.datasets ?? []).map((d) => ({ task: d.name, weight: d.weight }))],
    lora: config.lora,
    steps,
    contextLength: config.contextLength,
    tokens: steps * config.batchSize * config.gradAccumulation * config.contextLength,
    finalLoss: last?.loss ?? null,
    finalTaskLosses: last?.taskLoss ?? {},
    evaluation,
  });
}

/** Writes a run's export into `folder`. */
export async function exportRun(
  run: RunRecord, format: ExportFormat, options: ExportOptions, folder: FolderSink, appBaseUrl: string,
  evaluation?: ModelCardInfo['evaluation'],
): Promise<void> {
  const { base, adapter } = await runWeights(run, await runBaseSource(run.config.model, appBaseUrl));
  await exportModel(format, base, adapter, folder, { ...options, modelCard: format === 'peft' ? runModelCard(run, base, evaluation) : undefined });
}
