// npm run generate -- DIR (--ids 1,2,3 | --prompt TEXT) --max-new-tokens N [--no-adapter]
// DIR is a case folder as `npm run reference` takes it: config.json + model.safetensors, or model.gguf. Its
// adapter (adapter_config.json + adapter_model.safetensors) is applied unless --no-adapter. Prints one JSON line
// {"tokens":[...]}: exactly N greedily decoded tokens (EOS does not stop it), on the GPU with a KV cache.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { generateForCase } from '../reference/generate';
import { UsageError, runMain } from './run-main';

const USAGE = 'usage: npm run generate -- DIR (--ids 1,2,3 | --prompt TEXT) --max-new-tokens N [--no-adapter]';


function parseIds(text: string): number[] {
  const ids = text.split(',').map((s) => s.trim());
  if (ids.length === 0 || ids.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--ids takes token ids separated by commas, got '${text}'`);
  return ids.map(Number);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      ids: { type: 'string' },
      prompt: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'no-adapter': { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError('give one case folder');
  if ((values.ids === undefined) === (values.prompt === undefined)) throw new UsageError('give either --ids or --prompt');
  const maxNewTokens = Number(values['max-new-tokens']);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new UsageError('--max-new-tokens takes a whole number of at least 1');
  const dir = positionals[0];
  const read = async (name: string) => new Uint8Array(await readFile(join(dir, name)));

  const prompt = values.ids !== undefined ? { ids: parseIds(values.ids) } : { text: values.prompt! };
  const gpu = await Gpu.create(installNodeWebGpu());
  try {
    const { tokens, adapter } = await generateForCase(gpu, read, { prompt, maxNewTokens, adapter: !values['no-adapter'] });
    if (!adapter && !values['no-adapter']) console.error(`${dir} has no adapter_config.json: generated with the base model`);
    console.log(JSON.stringify({ tokens }));
  } finally {
    gpu.device.destroy();
  }
  return 0;
}

runMain(main, USAGE);
