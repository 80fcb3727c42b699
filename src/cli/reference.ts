// npm run reference -- DIR [DIR...]: checks one training step against a reference case folder (HF + PEFT)
// in Node through Dawn, prints one JSON line of max relative errors per case, and exits 1 beyond tolerance.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { REFERENCE_TOLERANCES, runReferenceCase, withinTolerances } from '../reference/run';
import { loadReferenceCase } from '../reference/case';
import { runMain } from './run-main';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const recompute = args.includes('--recompute');
  const dirs = args.filter((a) => !a.startsWith('--'));
  if (dirs.length === 0) {
    console.error('usage: npm run reference -- DIR [DIR...] [--recompute]\n  DIR holds config.json, model.safetensors, adapter_config.json, adapter_model.safetensors, batch.json, expected.json, expected.safetensors');
    return 2;
  }
  const gpu = await Gpu.create(installNodeWebGpu());
  let failed = 0;
  for (const dir of dirs) {
    const c = await loadReferenceCase(async (name) => new Uint8Array(await readFile(join(dir, name))));
    const errors = await runReferenceCase(gpu, c, { recompute });
    const pass = withinTolerances(errors);
    if (!pass) failed++;
    console.log(JSON.stringify(errors));
    if (!pass) {
      const over = (Object.keys(errors) as (keyof typeof errors)[]).filter((k) => errors[k] > REFERENCE_TOLERANCES[k]);
      console.error(`${dir}: beyond tolerance: ${over.map((k) => `${k} ${errors[k].toExponential(2)} > ${REFERENCE_TOLERANCES[k]}`).join(', ')}`);
    }
  }
  gpu.device.destroy();
  return failed === 0 ? 0 : 1;
}

runMain(main);
