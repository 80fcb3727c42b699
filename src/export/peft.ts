// A LoRA adapter as PEFT saves it (adapter_model.safetensors + adapter_config.json, loadable with
// PeftModel.from_pretrained) with a model card, and read back from PEFT files for a given base model.
import { unzipSync, zipSync } from 'fflate';
import type { LoraAdapter } from '../engine/lora';
import { type LoraConfig, adapterConfigJson, loraTensorShapes, parseAdapterConfig } from '../engine/peft';
import type { ModelSpec } from '../engine/spec';
import { type SafetensorsFile, readSafetensors, writeSafetensors } from '../model/safetensors';
import { errorMessage } from '../util/errors';
import { type HostAdapter, hostAdapterOf } from './adapter';

export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';

export interface PeftFiles {
  'adapter_model.safetensors': Uint8Array;
  'adapter_config.json': string;
}

export function peftFilesOf(adapter: HostAdapter, baseModel?: string): PeftFiles {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const t of loraTensorShapes(adapter.spec, adapter.config)) {
    const data = adapter.tensors.get(t.key);
    if (!data) throw new Error(`LoRA adapter lacks ${t.key}`);
    tensors[t.key] = { shape: t.shape, data };
  }
  return {
    [ADAPTER_WEIGHTS]: writeSafetensors(tensors, { format: 'pt' }),
    [ADAPTER_CONFIG]: `${JSON.stringify(adapterConfigJson(adapter.config, baseModel), null, 2)}\n`,
  };
}

export async function peftFiles(lora: LoraAdapter, baseModel?: string): Promise<PeftFiles> {
  return peftFilesOf(await hostAdapterOf(lora), baseModel);
}

/** What a model card says about the run that made the adapter. */
export interface ModelCardInfo {
  title: string;
  /** The base model's Hub repo, or what the app calls it. */
  baseModel: string;
  /** True when baseModel is a Hub repo id (then it goes into the card's metadata). */
  baseModelOnHub: boolean;
  objective: string;
  tasks: { task: string; weight: number }[];
  lora: LoraConfig;
  steps: number;
  contextLength: number;
  /** Tokens of the contexts trained on (steps x batch x accumulation x context length). */
  tokens: number;
  finalLoss: number | null;
  finalTaskLosses: Record<string, number>;
  /** A Markdown table of evaluation results, when there is one. */
  evaluation?: { heading: string; markdown: string };
}

/** README.md with the Hub's YAML front matter (library_name peft, base_model) and what the run did. */
export function modelCard(info: ModelCardInfo): string {
  const mixture = info.tasks.reduce((sum, t) => sum + t.weight, 0);
  const lines = [
    '---',
    'library_name: peft',
    ...(info.baseModelOnHub ? [`base_model: ${info.baseModel}`] : []),
    'tags:',
    '- lora',
    '- manyicl',
    '- manyicl-workbench',
    '---',
    '',
    `# ${info.title}`,
    '',
    `A LoRA adapter for \`${info.baseModel}\`, trained in the browser with ManyICL Workbench.`,
    '',
    '## Training',
    '',
    `- Objective: ${info.objective === 'manyicl' ? 'ManyICL (every in-context answer is a target)' : info.objective === 'last-answer' ? 'last answer only (few-shot fine-tuning)' : info.objective}`,
    `- LoRA: r ${info.lora.rank}, alpha ${info.lora.alpha}${info.lora.useRslora ? ' (rsLoRA)' : ''}, on ${info.lora.targets.join(', ')}`,
    `- Steps: ${info.steps}, context length ${info.contextLength}, ${info.tokens.toLocaleString('en-US')} tokens`,
    `- Final loss: ${info.finalLoss === null ? 'n/a' : info.finalLoss.toFixed(4)}`,
    '',
    '| task | weight | final loss |',
    '| --- | --- | --- |',
    ...info.tasks.map((t) => {
      const loss = info.finalTaskLosses[t.task];
      return `| ${t.task} | ${mixture > 0 ? `${((100 * t.weight) / mixture).toFixed(0)}%` : t.weight} | ${loss === undefined ? 'n/a' : loss.toFixed(4)} |`;
    }),
    '',
  ];
  if (info.evaluation) lines.push(`## ${info.evaluation.heading}`, '', info.evaluation.markdown.trim(), '');
  lines.push(
    '## Use',
    '',
    '```python',
    'from peft import PeftModel',
    'from transformers import AutoModelForCausalLM',
    '',
    `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(info.baseModel)})`,
    'model = PeftModel.from_pretrained(base, "path/to/this/folder")',
    '```',
    '',
  );
  return lines.join('\n');
}

export function zipFiles(files: ReadonlyMap<string, Uint8Array | string>): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, content] of files) entries[name] = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  return zipSync(entries, { level: 6 });
}

/** The files of a zip, by their base name (an adapter folder zipped with its directory reads the same). */
export function unzipFiles(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (error) {
    throw new Error(`${source}: not a readable zip file (${errorMessage(error)})`);
  }
  // Files by folder, leaving out folder entries and macOS's resource forks.
  const folders = new Map<string, Map<string, Uint8Array>>();
  for (const [path, content] of Object.entries(entries)) {
    if (path.endsWith('/') || path.startsWith('__MACOSX/')) continue;
    const slash = path.lastIndexOf('/');
    const folder = path.slice(0, slash + 1);
    if (!folders.has(folder)) folders.set(folder, new Map());
    folders.get(folder)!.set(path.slice(slash + 1), content);
  }
  return adapterFolder(folders, source);
}

/**
 * The folder of a zip that holds the adapter: the shallowest one with both adapter files (else with either,
 * so the reader names the missing one). Several at that depth are refused rather than one picked at random.
 */
function adapterFolder(folders: Map<string, Map<string, Uint8Array>>, source: string): Map<string, Uint8Array> {
  const depth = (folder: string) => folder.split('/').length;
  const pick = (holds: (files: Map<string, Uint8Array>) => boolean) => {
    const matching = [...folders.keys()].filter((folder) => holds(folders.get(folder)!));
    const shallowest = Math.min(...matching.map(depth));
    return matching.filter((folder) => depth(folder) === shallowest).sort();
  };
  let chosen = pick((files) => files.has(ADAPTER_CONFIG) && files.has(ADAPTER_WEIGHTS));
  if (chosen.length === 0) chosen = pick((files) => files.has(ADAPTER_CONFIG) || files.has(ADAPTER_WEIGHTS));
  if (chosen.length > 1) {
    const names = chosen.map((folder) => folder || '(top level)').join(', ');
    throw new Error(`${source}: holds ${chosen.length} adapters (${names}); zip one adapter folder at a time`);
  }
  return chosen.length === 1 ? folders.get(chosen[0])! : new Map();
}

/**
 * Reads a PEFT adapter for `spec`, checking it fits: every tensor of its targets present with the shape the
 * base model's layers and the adapter's rank imply, and no tensor the adapter should not have. Errors name
 * `source`, the file and the tensor.
 */
export function readPeftAdapter(files: (name: string) => Uint8Array | undefined, spec: ModelSpec, source: string): HostAdapter {
  const configBytes = files(ADAPTER_CONFIG);
  if (!configBytes) throw new Error(`${source}: no ${ADAPTER_CONFIG} (a PEFT adapter has ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS})`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (error) {
    throw new Error(`${source}: ${ADAPTER_CONFIG} is not valid JSON (${errorMessage(error)})`);
  }
  let config: LoraConfig;
  try {
    config = parseAdapterConfig(json);
  } catch (error) {
    throw new Error(`${source}: ${errorMessage(error)}`);
  }
  const weightBytes = files(ADAPTER_WEIGHTS);
  if (!weightBytes) {
    const bin = files('adapter_model.bin') ? ' (adapter_model.bin, a pickle, is not read: save with safe_serialization=True)' : '';
    throw new Error(`${source}: no ${ADAPTER_WEIGHTS}${bin}`);
  }
  let weights: SafetensorsFile;
  try {
    weights = readSafetensors(weightBytes);
  } catch (error) {
    throw new Error(`${source}: ${ADAPTER_WEIGHTS}: ${errorMessage(error)}`);
  }
  const fail = (message: string): never => {
    throw new Error(`${source}: ${ADAPTER_WEIGHTS}: ${message}`);
  };
  const expected = loraTensorShapes(spec, config);
  const tensors = new Map<string, Float32Array>();
  for (const t of expected) {
    if (!weights.has(t.key)) {
      const layers = new Set([...weights.header.tensors.keys()].map((k) => /\.layers\.(\d+)\./.exec(k)?.[1]).filter((l) => l !== undefined));
      fail(`lacks ${t.key}${layers.size > 0 && !layers.has(String(t.layer)) ? ` (the file has tensors for ${layers.size} layers; the base model has ${spec.numLayers})` : ''}`);
    }
    const { shape, dtype } = weights.info(t.key);
    if (shape.length !== 2 || shape[0] !== t.shape[0] || shape[1] !== t.shape[1]) {
      const [rows, cols] = t.shape;
      const rankDim = t.which === 'A' ? shape[0] : shape[1];
      const why =
        shape.length === 2 && rankDim !== config.rank && (t.which === 'A' ? shape[1] === cols : shape[0] === rows)
          ? `its rank is ${rankDim}, but adapter_config.json says r = ${config.rank}`
          : `the base model's ${t.target} is ${t.which === 'A' ? `${cols} inputs` : `${rows} outputs`}: this adapter was trained for another model`;
      fail(`${t.key} has shape [${shape.join(', ')}], expected [${rows}, ${cols}]: ${why}`);
    }
    let data: Float32Array;
    try {
      data = weights.tensor(t.key);
    } catch (error) {
      return fail(errorMessage(error));
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) fail(`${t.key} (${dtype}) holds a non-finite value at index ${i}`);
    }
    tensors.set(t.key, data);
  }
  const known = new Set(expected.map((t) => t.key));
  const extra = [...weights.header.tensors.keys()].filter((k) => !known.has(k));
  if (extra.length > 0) {
    fail(`has ${extra.length} tensor(s) this adapter should not have for the base model (${spec.numLayers} layers, targets ${config.targets.join(', ')}), e.g. ${extra[0]}`);
  }
  return { spec, config, tensors };
}
