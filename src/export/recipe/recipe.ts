// A run as a recipe for a GPU cluster: its packed data in training order with the loss masks, the LoRA weights our
// engine starts from, the settings, transformers + PEFT + TRL scripts that train and evaluate it the same way, a
// parity check of the first step's loss, accelerate configs and a README. The Python is written as files beside
// this one (recipe_lib.py, train.py, check_parity.py) and copied as they are.
import type { Tokenizer } from '../../data/tokenizer';
import { initialLoraParams } from '../../engine/lora';
import type { RecipeTestRow } from '../../eval/recipe-test';
import { type RecipeRow, recipeContextCount, recipeContexts, recipeRow } from '../../train/recipe-data';
import { type RunConfig, runConfigJson } from '../../train/run-config';
import { hostAdapterOfFlat } from '../adapter';
import { type BaseSource, transformersRepo } from '../base';
import { type ExportProgress, exportMergedSafetensors } from '../merged';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, peftFilesOf } from '../peft';
import { type FolderSink, writeFile } from '../sink';
import { ACCELERATE_CONFIGS, accelerateConfig } from './accelerate';
import checkParityPy from './check_parity.py?raw';
import recipeLibPy from './recipe_lib.py?raw';
import trainPy from './train.py?raw';

export const RECIPE_FORMAT = 'manyicl-recipe';
export const RECIPE_VERSION = 1;

/** The packages the scripts were written against (README.md's pip line); nothing here runs them. */
export const RECIPE_PACKAGES = {
  torch: '2.8.0',
  transformers: '4.56.2',
  peft: '0.17.1',
  trl: '0.23.0',
  accelerate: '1.10.1',
  datasets: '4.1.1',
  deepspeed: '0.17.6',
} as const;

export interface RecipeOptions {
  /** The run's base model: named by its Hub repo when it has one (and is not GGUF), else written under model/. */
  base: BaseSource;
  /** The base model is a GGUF file: model/ then holds its de-quantized weights. */
  baseIsGguf?: boolean;
  /** Held-out prompts for data/test.jsonl (eval/recipe-test.ts recipeTestRows); none: --eval has nothing to score. */
  testRows: readonly RecipeTestRow[];
  /** The flat LoRA parameters the run started from when it was imported; else PEFT's init from the run's seed. */
  initialAdapter?: Float32Array;
  /** Our engine's first-step loss and its loss tokens (train/first-step.ts firstStepLoss), for parity.json. */
  engineLoss?: { loss: number; targetTokens: number };
  onProgress?: ExportProgress;
}

export interface RecipeSummary {
  rows: number;
  testRows: number;
  /** The Hub repo the recipe names, or null when the model is in model/. */
  hubRepo: string | null;
}

function fail(message: string): never {
  throw new Error(`recipe export: ${message}`);
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function subfolder(folder: FolderSink, prefix: string): FolderSink {
  return { file: (path) => folder.file(`${prefix}/${path}`) };
}

/** Writes JSON lines in chunks of about a megabyte. */
async function writeJsonl(folder: FolderSink, path: string, rows: Iterable<unknown>): Promise<number> {
  const file = await folder.file(path);
  const encoder = new TextEncoder();
  let chunk = '';
  let count = 0;
  for (const row of rows) {
    chunk += `${JSON.stringify(row)}\n`;
    count++;
    if (chunk.length > 1 << 20) {
      await file.write(encoder.encode(chunk));
      chunk = '';
    }
  }
  if (chunk) await file.write(encoder.encode(chunk));
  await file.close();
  return count;
}

/** recipe.json: what train.py and check_parity.py read of the run. */
export function recipeJson(config: RunConfig, base: { hubRepo: string | null; padTokenId: number }): Record<string, unknown> {
  return {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    base_model: base.hubRepo ? { hub_repo: base.hubRepo } : { path: 'model' },
    objective: config.objective,
    seed: config.seed,
    context_length: config.contextLength,
    pad_token_id: base.padTokenId,
    batch: { batch_size: config.batchSize, grad_accumulation: config.gradAccumulation, contexts: recipeContextCount(config) },
    lora: {
      r: config.lora.rank, lora_alpha: config.lora.alpha, target_modules: config.lora.targets, lora_dropout: 0,
      use_rslora: config.lora.useRslora ?? false, init_lora_weights: true,
    },
    // AdamW as src/train/trainer.ts trainerConfig sets it.
    optimizer: { lr: config.lr, betas: [0.9, 0.999], eps: 1e-8, weight_decay: config.weightDecay, max_grad_norm: config.maxGradNorm },
    schedule: { steps: config.steps, warmup_steps: config.warmupSteps, min_lr_ratio: config.minLrRatio },
  };
}

/** Writes the recipe of `config` into `folder`; `tokenizer` is the base model's, as the run packs with it. */
export async function exportRecipe(config: RunConfig, tokenizer: Tokenizer, folder: FolderSink, options: RecipeOptions): Promise<RecipeSummary> {
  if (config.mode !== 'lora') fail('only LoRA runs can be exported as a recipe (a full-parameter run trains the embedded model, from random)');
  const { base } = options;
  if (tokenizer.vocabSize > base.spec.vocabSize) fail(`the tokenizer has ${tokenizer.vocabSize} tokens, the model ${base.spec.vocabSize}`);
  const hubRepo = (!options.baseIsGguf && transformersRepo(base)) || null;

  const rows = await writeJsonl(folder, 'data/train.jsonl', (function* (): Generator<RecipeRow> {
    for (const context of recipeContexts(config, tokenizer)) yield recipeRow(context, config, base.spec.vocabSize);
  })());
  const testRows = await writeJsonl(folder, 'data/test.jsonl', options.testRows);

  const init = peftFilesOf(hostAdapterOfFlat(base.spec, config.lora, options.initialAdapter ?? initialLoraParams(base.spec, config.lora, config.seed)), hubRepo ?? undefined);
  await writeFile(folder, `init_adapter/${ADAPTER_WEIGHTS}`, init[ADAPTER_WEIGHTS]);
  await writeFile(folder, `init_adapter/${ADAPTER_CONFIG}`, init[ADAPTER_CONFIG]);

  await writeFile(folder, 'recipe.json', json(recipeJson(config, { hubRepo, padTokenId: tokenizer.padId })));
  await writeFile(folder, 'run-config.json', runConfigJson(config));
  await writeFile(folder, 'parity.json', json({
    engine_loss: options.engineLoss?.loss ?? null,
    target_tokens: options.engineLoss?.targetTokens ?? null,
    step: 1,
    rows: [0, config.batchSize * config.gradAccumulation],
    note: 'the loss of the first optimizer step (data/train.jsonl rows [0, batch x accumulation)), from init_adapter, as the ManyICL Workbench engine computed it in float32',
  }));
  await writeFile(folder, 'recipe_lib.py', recipeLibPy);
  await writeFile(folder, 'train.py', trainPy);
  await writeFile(folder, 'check_parity.py', checkParityPy);
  for (const kind of ACCELERATE_CONFIGS) await writeFile(folder, `accelerate/${kind}.yaml`, accelerateConfig(kind, base.spec));
  if (!hubRepo) await exportMergedSafetensors(base, null, subfolder(folder, 'model'), { dtype: 'F32', onProgress: options.onProgress });
  await writeFile(folder, 'README.md', recipeReadme(config, { hubRepo, baseIsGguf: options.baseIsGguf ?? false, rows, testRows, parity: options.engineLoss !== undefined, imported: options.initialAdapter !== undefined }));
  return { rows, testRows, hubRepo };
}

export function recipeReadme(
  config: RunConfig,
  info: { hubRepo: string | null; baseIsGguf: boolean; rows: number; testRows: number; parity: boolean; imported?: boolean },
): string {
  const pip = `pip install ${Object.entries(RECIPE_PACKAGES).map(([name, version]) => `${name}==${version}`).join(' ')}`;
  const perStep = config.batchSize * config.gradAccumulation;
  const launch = (kind: string, extra = '') => `accelerate launch --config_file accelerate/${kind}.yaml${extra} train.py --eval`;
  return [
    '# ManyICL Workbench run: cluster recipe',
    '',
    `Trains the run's LoRA adapter (objective ${config.objective}, ${config.steps} steps of ${perStep} contexts of ${config.contextLength} tokens) with transformers + PEFT + TRL's SFTTrainer, on the same data in the same order as the app.`,
    '',
    '**Not run in CI**: the app\'s tests compile these scripts (`python3 -m py_compile`), run the torch-free `recipe_lib.py` (schedule, metrics) against the app\'s own code, parse the accelerate configs and check the data rows against the packer and the engine; nothing here has trained a model with PyTorch.',
    '',
    '## Install',
    '',
    'The versions the scripts were written against (train.py refuses older transformers than 4.46, TRL than 0.20, PEFT than 0.13):',
    '',
    '```',
    pip,
    '```',
    '',
    '## Base model',
    '',
    info.hubRepo
      ? `The Hub repo \`${info.hubRepo}\` (model and tokenizer): log in with \`huggingface-cli login\` if it is gated.`
      : info.baseIsGguf
        ? 'In `model/`: the run\'s GGUF model de-quantized to float32 safetensors, with its config and tokenizer. The app trained on the quantized weights; de-quantizing gives the same values, so the parity check holds.'
        : 'In `model/`: float32 safetensors, config and tokenizer, as the app has them.',
    '',
    '## Files',
    '',
    `- \`data/train.jsonl\`: ${info.rows} packed contexts in training order (row i is the i-th context; one optimizer step takes ${perStep}). \`input_ids\`; \`assistant_masks\`, 1 on the tokens that carry loss${config.objective === 'last-answer' ? ' (only the last answer of each context)' : ' (every answer)'} in Hugging Face's alignment (labels = input_ids where the mask is 1, else -100; the model shifts them, so the logits at t-1 predict token t); \`attention_mask\` on rows that end in padding; \`spans\`, every answer's [start, end) with its task.`,
    `- \`data/test.jsonl\`: ${info.testRows} held-out prompts as the app's evaluation protocol builds them, with the references, the metric and how to cut the generated answer.`,
    info.imported
      ? '- `init_adapter/`: the LoRA weights the run started from (the adapter it was imported from), loaded by both scripts.'
      : '- `init_adapter/`: the LoRA weights the app\'s engine starts from (PEFT\'s init: kaiming-uniform A, B = 0, drawn with the run\'s seed by the app\'s generator), loaded by both scripts.',
    '- `recipe.json`: the settings the scripts read; `run-config.json`: the run as the app saves it.',
    `- \`parity.json\`: the first step's loss as the app's engine computed it${info.parity ? '' : ' (absent here: the export ran without a GPU)'}.`,
    '',
    '## Run',
    '',
    'Check the first step against the app first (float32; exits 1 beyond the tolerance):',
    '',
    '```',
    'python check_parity.py --tolerance 1e-4',
    '```',
    '',
    'Then train and score the held-out split with the app\'s metrics (accuracy, SQuAD EM/F1, ROUGE, GSM8K EM):',
    '',
    '```',
    launch('single_gpu'),
    launch('multi_gpu', ' --num_processes 4'),
    launch('fsdp2', ' --num_processes 4'),
    launch('deepspeed_zero3', ' --num_processes 4'),
    '```',
    '',
    `Each process takes \`--per-device-batch-size\` contexts (default: the run's batch size over the processes) and gradient accumulation makes up the run's ${perStep} contexts per step; the process count times the per-device batch must divide ${perStep}. The adapter is written to \`output/adapter\` by PeftModel.save_pretrained (safetensors), which the app imports. \`python train.py --eval-only output/adapter\` scores an adapter again.`,
    '',
    '## What matches the app, and how',
    '',
    '- Loss: the mean cross-entropy over all loss tokens of the optimizer step, across micro-batches and processes. transformers >= 4.46 passes the step\'s token count (num_items_in_batch) to the model; `average_tokens_across_devices` counts it over processes. train.py exits if the model does not take it.',
    `- Optimizer: torch AdamW, lr ${config.lr}, betas (0.9, 0.999), eps 1e-8, weight decay ${config.weightDecay} on every LoRA tensor; gradient norm clipped to ${config.maxGradNorm}${config.maxGradNorm === 0 ? ' (off)' : ''}.`,
    `- Schedule: linear warmup over ${config.warmupSteps} steps, then cosine to lr x ${config.minLrRatio} at step ${config.steps}, as a LambdaLR over the app's formula. transformers' \`cosine_with_min_lr\` (min_lr_rate) has the same shape counted from step 0, so its first warmup step has lr 0 and every later step is one behind the app's: it is not used.`,
    '- Data: no packing, no truncation, no shuffling (a sequential sampler), the rows as written.',
    '- Precision: the app trains in float32 over its (possibly quantized) weights; train.py uses bf16 autocast with float32 LoRA weights by default (`--no-bf16` for float32). Gradient checkpointing is on (`--no-gradient-checkpointing`).',
    '- Evaluation generates greedily, one prompt at a time, up to each row\'s max_new_tokens, and cuts the answer as the app does. Decoding uses the Python tokenizer: it can differ from transformers.js in cleanup of spaces.',
    '',
  ].join('\n');
}
