// npm run study -- --config FILE.json [--real-gpu]
// Runs the ManyICL study (src/eval/study.ts) in Node through Dawn and prints its table as Markdown, then as one
// JSON line. The config file:
//   { "model": "embedded" | "path/to/folder" (config.json, model.safetensors, tokenizer.json, tokenizer_config.json),
//     "run": { ...RunConfig fields over the defaults: tasks, mode, lora, contextLength, batchSize, steps, lr, seed },
//     "forgetting": ["nli", ...],
//     "evaluation": { "shots": [0, 1, 4, 16], "examples": 20, "batchSize": 8, "maxAnswerTokens": 16 } }
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SHOTS } from '../eval/protocol';
import { type StudyConfig, runStudy, studyMarkdown } from '../eval/study';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import { type RunConfig, defaultRunConfig, validateConfig } from '../train/run-config';
import { runMain } from './run-main';

interface StudyFile {
  model?: string;
  run?: Partial<RunConfig>;
  forgetting?: string[];
  evaluation?: Partial<StudyConfig['evaluation']>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, 'real-gpu': { type: 'boolean', default: false } } });
  if (!values.config) throw new Error('usage: npm run study -- --config FILE.json [--real-gpu]');
  let file: StudyFile;
  try {
    file = JSON.parse(await readFile(values.config, 'utf8')) as StudyFile;
  } catch (error) {
    throw new Error(`${values.config}: ${(error as Error).message}`);
  }
  const run: RunConfig = { ...defaultRunConfig(), ...file.run };
  const check = validateConfig(run);
  if (check.errors.length > 0) throw new Error(`${values.config}: ${check.errors.join(' ')}`);
  for (const warning of check.warnings) console.error(`note: ${warning}`);
  const config: StudyConfig = {
    run,
    forgetting: file.forgetting ?? [],
    evaluation: { shots: [...DEFAULT_SHOTS], examples: 20, batchSize: 8, maxAnswerTokens: 16, ...file.evaluation },
  };
  const folder = !file.model || file.model === 'embedded' ? join('public', EMBEDDED_MODEL_PATH) : file.model;
  const loaded = await loadModelFolder(async (name) => new Uint8Array(await readFile(join(folder, name))));
  const gpu = await Gpu.create(installNodeWebGpu());
  try {
    const result = await runStudy(gpu, { spec: loaded.spec, tokenizer: loaded.tokenizer, tensors: tensorsOf(loaded.weights) }, config, {
      log: (line) => console.error(line),
      onProgress: (done, total) => console.error(`unit ${done} of ${total} done`),
    });
    console.log(studyMarkdown(result));
    console.log(JSON.stringify({ table: result.table, forgetting: result.forgetting, units: result.units.map(({ key, method, trainedTokens, steps }) => ({ key, method, trainedTokens, steps })) }));
  } finally {
    gpu.device.destroy();
  }
}

runMain(main);
