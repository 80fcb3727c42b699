// npm run compare-objectives -- [--steps N] [--mode lora|full] [--tasks a,b] [--context T] [--eval N]
// ManyICL vs last-answer-only fine-tuning of the embedded model, in Node through Dawn: prints the per-shot
// loss curves before and after, and the mean over all shot positions.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareObjectives } from '../eval/compare-objectives';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import { defaultRunConfig } from '../train/run-config';
import { runMain } from './run-main';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '30' },
      mode: { type: 'string', default: 'lora' },
      tasks: { type: 'string', default: 'sentiment,arithmetic' },
      context: { type: 'string', default: '128' },
      batch: { type: 'string', default: '2' },
      lr: { type: 'string', default: '1e-2' },
      eval: { type: 'string', default: '8' },
    },
  });
  if (values.mode !== 'lora' && values.mode !== 'full') throw new Error('--mode is lora or full');
  const folder = await loadModelFolder(async (name) => new Uint8Array(await readFile(join('public', EMBEDDED_MODEL_PATH, name))));
  const base = {
    spec: folder.spec, tokenizer: folder.tokenizer,
    tensors: tensorsOf(folder.weights),
  };
  const config = {
    ...defaultRunConfig(), mode: values.mode, steps: Number(values.steps), contextLength: Number(values.context),
    batchSize: Number(values.batch), lr: Number(values.lr), warmupSteps: Math.ceil(Number(values.steps) / 10),
    tasks: values.tasks.split(',').map((task) => ({ task, weight: 1 })),
  } as const;
  const gpu = await Gpu.create(installNodeWebGpu());
  const r = await compareObjectives(gpu, base, config, Number(values.eval), (line) => console.error(line));
  const show = (c: { perShot: number[]; mean: number }) => `mean ${c.mean.toFixed(4)} | per shot ${c.perShot.map((x) => x.toFixed(3)).join(' ')}`;
  console.log(`embedded model, ${values.mode}, ${r.steps} steps, ${r.evalContexts} held-out contexts`);
  console.log(`before:                ${show(r.before)}`);
  console.log(`after ManyICL:         ${show(r.after.manyicl)}`);
  console.log(`after last-answer:     ${show(r.after['last-answer'])}`);
  console.log(JSON.stringify(r));
  gpu.device.destroy();
}

runMain(main);
