// npm run bench -- --shape NAME --seq T [--batch B] [--rank R] [--steps N] [--recompute] [--allocate-only]
// Times full ManyICL LoRA training steps in Node through Dawn and prints one JSON line.
import { parseArgs } from 'node:util';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { runBench } from '../engine/bench';
import { MODEL_SHAPES } from '../engine/shapes';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: 'tiny' },
      seq: { type: 'string', default: '128' },
      batch: { type: 'string', default: '1' },
      rank: { type: 'string', default: '16' },
      steps: { type: 'string', default: '3' },
      recompute: { type: 'boolean', default: false },
      'allocate-only': { type: 'boolean', default: false },
    },
  });
  if (!MODEL_SHAPES[values.shape]) throw new Error(`unknown --shape ${values.shape}; one of: ${Object.keys(MODEL_SHAPES).join(', ')}`);
  const gpu = await Gpu.create(installNodeWebGpu(process.env.MANYICL_GPU === 'real' ? ['enable-dawn-features=allow_unsafe_apis'] : []));
  const result = await runBench(
    gpu,
    {
      shape: values.shape, seq: Number(values.seq), batch: Number(values.batch), rank: Number(values.rank),
      steps: Number(values.steps), recompute: values.recompute, allocateOnly: values['allocate-only'],
    },
    (line) => console.error(line),
  );
  console.log(JSON.stringify(result));
  gpu.device.destroy();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
