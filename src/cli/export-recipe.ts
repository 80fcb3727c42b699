// npm run export-recipe -- --config FILE --out DIR [--model DIR] [--hub-repo REPO] [--examples N] [--no-parity]
// Writes the run config FILE as a recipe for a GPU cluster (src/export/recipe). --model is the base model's folder
// (as `npm run export` reads it; default for the embedded model: public/models/manyicl-tiny); --hub-repo names
// its Hub repo, which the recipe then loads instead of a copy in model/. Unless --no-parity, our engine computes
// the first step's loss on the GPU (through Dawn) for parity.json. Written beside --out, then renamed into place.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Tokenizer } from '../data/tokenizer';
import { type HostTensor, Model } from '../engine/weights';
import { baseWeights } from '../engine/spec';
import { recipeTestRows } from '../eval/recipe-test';
import type { BaseSource } from '../export/base';
import { exportRecipe } from '../export/recipe/recipe';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadTokenizer } from '../model/tokenizer';
import { firstStepLoss } from '../train/first-step';
import { type RunConfig, parseRunConfig } from '../train/run-config';
import { caseBase } from './case-base';
import { nodeFolder, writeInPlace } from './node-folder';
import { UsageError, runMain } from './run-main';

const USAGE = 'usage: npm run export-recipe -- --config FILE --out DIR [--model DIR] [--hub-repo REPO] [--examples N] [--no-parity]';


/** Our engine's first-step loss, on a model made from the base's weights as f32. */
async function engineLoss(base: BaseSource, config: RunConfig, tokenizer: Tokenizer): Promise<{ loss: number; targetTokens: number }> {
  const tensors = new Map<string, HostTensor>();
  for (const w of baseWeights(base.spec)) tensors.set(w.name, { shape: w.shape, data: await base.tensor(w.name) });
  const gpu = await Gpu.create(installNodeWebGpu());
  try {
    const model = Model.fromTensors(gpu, base.spec, (name) => tensors.get(name));
    try {
      return await firstStepLoss(gpu, model, config, tokenizer);
    } finally {
      model.destroy();
    }
  } finally {
    gpu.device.destroy();
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      config: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, 'hub-repo': { type: 'string' },
      examples: { type: 'string', default: '20' }, 'no-parity': { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.config) throw new UsageError('give --config');
  if (!values.out) throw new UsageError('give --out');
  const examples = Number(values.examples);
  if (!Number.isInteger(examples) || examples < 0) throw new UsageError(`--examples takes a whole number, got ${values.examples}`);
  const config = parseRunConfig(await readFile(values.config, 'utf8'), values.config);
  const modelDir = values.model ?? (config.model.source === 'embedded' ? join('public', EMBEDDED_MODEL_PATH) : null);
  if (!modelDir) throw new UsageError(`the run's model (${config.model.source}) is not on disk here: give --model DIR`);
  const out = resolve(values.out);

  const { base, close } = await caseBase(modelDir);
  try {
    if (!base.tokenizer) throw new Error(`${modelDir}: no tokenizer.json: the run's contexts cannot be packed`);
    const tokenizer = loadTokenizer(base.tokenizer);
    const source: BaseSource = { ...base, repo: values['hub-repo'] };
    const t0 = performance.now();
    const loss = values['no-parity'] ? undefined : await engineLoss(source, config, tokenizer);
    const testRows = recipeTestRows(config, tokenizer, { examples });
    const summary = await writeInPlace(out, 'folder', (partial) =>
      exportRecipe(config, tokenizer, nodeFolder(partial), { base: source, baseIsGguf: existsSync(join(modelDir, 'model.gguf')), testRows, engineLoss: loss }),
    );
    console.log(JSON.stringify({ out, ...summary, engineLoss: loss?.loss ?? null, seconds: Number(((performance.now() - t0) / 1000).toFixed(3)) }));
  } finally {
    await close();
  }
  return 0;
}

runMain(main, USAGE);
