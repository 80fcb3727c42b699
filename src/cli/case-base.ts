// A model folder on disk as an export's base model: config.json + model.safetensors (or an index and its
// shards), or model.gguf; tokenizer.json and tokenizer_config.json when there. Weights are read by range.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BaseSource } from '../export/base';
import { ggufHostTensors, safetensorsHostTensors } from '../model/host-tensors';
import type { TokenizerFiles } from '../model/tokenizer';
import { errorMessage } from '../util/errors';
import { nodeRangeFile } from './node-folder';

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path}: ${errorMessage(error)}`);
  }
}

/** The case folder's base model, read by range, and a function that closes its files. */
export async function caseBase(dir: string): Promise<{ base: BaseSource; close: () => Promise<void> }> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => void (await Promise.all(closers.map((c) => c())));
  const ranged = async (name: string) => {
    const { file, close: closeFile } = await nodeRangeFile(join(dir, name), name);
    closers.push(closeFile);
    return file;
  };
  try {
    const tokenizer: TokenizerFiles | undefined = existsSync(join(dir, 'tokenizer.json'))
      ? {
          tokenizer: await readJson(join(dir, 'tokenizer.json')),
          config: existsSync(join(dir, 'tokenizer_config.json')) ? await readJson(join(dir, 'tokenizer_config.json')) : {},
        }
      : undefined;
    if (existsSync(join(dir, 'model.gguf'))) return { base: await ggufHostTensors([await ranged('model.gguf')], tokenizer), close };
    if (!existsSync(join(dir, 'config.json'))) throw new Error(`${dir}: no model.gguf, and no config.json for a safetensors model`);
    const index = join(dir, 'model.safetensors.index.json');
    const shards = existsSync(index)
      ? [...new Set(Object.values((await readJson(index)).weight_map as Record<string, string>))].sort()
      : ['model.safetensors'];
    for (const shard of shards) if (!existsSync(join(dir, shard))) throw new Error(`${dir}: no ${shard}`);
    const files = await Promise.all(shards.map(ranged));
    const config = await readFile(join(dir, 'config.json'));
    const base = await safetensorsHostTensors(files, new Uint8Array(config), tokenizer);
    return { base, close };
  } catch (error) {
    await close();
    throw error;
  }
}
