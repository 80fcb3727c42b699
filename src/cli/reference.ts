// npm run reference -- DIR [DIR...] [--recompute] [--activations f32|f16]: checks one training step against a
// reference case folder (HF + PEFT) in Node through Dawn, prints one JSON line of max relative errors per case,
// and exits 1 beyond tolerance (with f16 activations, F16_REFERENCE_TOLERANCES).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { F16_REFERENCE_TOLERANCES, REFERENCE_TOLERANCES, runReferenceCase, withinTolerances } from '../reference/run';
import { loadReferenceCase } from '../reference/case';
import { runMain } from './run-main';

async function main(): Promise<number> {
  const usage = 'usage: npm run reference -- DIR [DIR...] [--recompute] [--activations f32|f16]\n  DIR holds config.json, model.safetensors, adapter_config.json, adapter_model.safetensors, batch.json, expected.json, expected.safetensors';
  let parsed;
  try {
    parsed = parseArgs({ options: { recompute: { type: 'boolean', default: false }, activations: { type: 'string', default: 'f32' } }, allowPositionals: true });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    return 2;
  }
  const { values, positionals: dirs } = parsed;
  const { recompute, activations } = values;
  if (activations !== 'f32' && activations !== 'f16') {
    console.error(`--activations takes f32 or f16; got ${activations}\n${usage}`);
    return 2;
  }
  if (dirs.length === 0) {
    console.error(usage);
    return 2;
  }
  const tolerances = activations === 'f16' ? F16_REFERENCE_TOLERANCES : REFERENCE_TOLERANCES;
  const gpu = await Gpu.create(installNodeWebGpu());
  let failed = 0;
  for (const dir of dirs) {
    const c = await loadReferenceCase(async (name) => new Uint8Array(await readFile(join(dir, name))));
    const errors = await runReferenceCase(gpu, c, { recompute, activations });
    const pass = withinTolerances(errors, tolerances);
    if (!pass) failed++;
    console.log(JSON.stringify(errors));
    if (!pass) {
      const over = (Object.keys(errors) as (keyof typeof errors)[]).filter((k) => errors[k] > tolerances[k]);
      console.error(`${dir}: beyond tolerance: ${over.map((k) => `${k} ${errors[k].toExponential(2)} > ${tolerances[k]}`).join(', ')}`);
    }
  }
  gpu.device.destroy();
  return failed === 0 ? 0 : 1;
}

runMain(main);
