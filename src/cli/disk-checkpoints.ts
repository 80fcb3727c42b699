// A CheckpointStore in a folder, for the headless trainer: the arrays (params, AdamW moments) in a safetensors
// file, the rest in checkpoint.json, which names that file. Each file is written beside its place and renamed
// into it; checkpoint.json is renamed last, so a crash at any point leaves the previous checkpoint whole.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StreamCursor } from '../data/packer';
import { readSafetensors, writeSafetensors } from '../model/safetensors';
import type { Checkpoint, CheckpointStore } from '../train/checkpoints';
import { errorMessage } from '../util/errors';

export const CHECKPOINT_JSON = 'checkpoint.json';
const FORMAT = 'manyicl-checkpoint';
const PARAMS = 'params';
const FULL_PREFIX = 'params.';

interface CheckpointJson {
  format: typeof FORMAT;
  version: 1;
  runId: string;
  step: number;
  mode: 'full' | 'lora';
  cursor?: StreamCursor;
  savedAt: number;
  /** The safetensors file of this checkpoint's arrays, in the same folder. */
  arrays: string;
}

/** Writes `bytes` to `path` by way of a temporary file renamed into place. */
export async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, bytes);
  await rename(temp, path);
}

const flat = (data: Float32Array) => ({ shape: [data.length], data });

/** The checkpoint's arrays as one safetensors file: `params` (LoRA) or `params.<HF name>` (full), `m`, `v`. */
export function checkpointArrays(c: Checkpoint): Uint8Array {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = { m: flat(c.m), v: flat(c.v) };
  if (c.params instanceof Float32Array) tensors[PARAMS] = flat(c.params);
  else for (const [name, data] of Object.entries(c.params)) tensors[FULL_PREFIX + name] = flat(data);
  return writeSafetensors(tensors, { format: FORMAT, mode: c.mode, step: String(c.step) });
}

/** The checkpoint store of one run folder (`dir` is its checkpoints/ folder); it keeps only the newest. */
export function diskCheckpoints(dir: string): CheckpointStore {
  const fail = (message: string): never => {
    throw new Error(`${join(dir, CHECKPOINT_JSON)}: ${message}`);
  };
  return {
    async load() {
      const path = join(dir, CHECKPOINT_JSON);
      if (!existsSync(path)) return undefined;
      let meta: CheckpointJson;
      try {
        meta = JSON.parse(await readFile(path, 'utf8')) as CheckpointJson;
      } catch (error) {
        return fail(errorMessage(error));
      }
      if (meta.format !== FORMAT || meta.version !== 1) fail(`not a ${FORMAT} version 1 file`);
      let file;
      try {
        file = readSafetensors(new Uint8Array(await readFile(join(dir, meta.arrays))));
      } catch (error) {
        return fail(`its arrays ${meta.arrays}: ${errorMessage(error)}`);
      }
      const names = [...file.header.tensors.keys()];
      const params = meta.mode === 'lora'
        ? file.tensor(PARAMS)
        : Object.fromEntries(names.filter((n) => n.startsWith(FULL_PREFIX)).map((n) => [n.slice(FULL_PREFIX.length), file.tensor(n)]));
      return {
        runId: meta.runId, step: meta.step, mode: meta.mode, params, m: file.tensor('m'), v: file.tensor('v'),
        ...(meta.cursor ? { cursor: meta.cursor } : {}), savedAt: meta.savedAt,
      };
    },
    async save(c) {
      await mkdir(dir, { recursive: true });
      const arrays = `step-${String(c.step).padStart(6, '0')}.safetensors`;
      await writeAtomic(join(dir, arrays), checkpointArrays(c));
      const meta: CheckpointJson = {
        format: FORMAT, version: 1, runId: c.runId, step: c.step, mode: c.mode,
        ...(c.cursor ? { cursor: c.cursor } : {}), savedAt: c.savedAt, arrays,
      };
      await writeAtomic(join(dir, CHECKPOINT_JSON), `${JSON.stringify(meta, null, 2)}\n`);
      for (const name of await readdir(dir)) {
        if (name !== arrays && /^step-\d+\.safetensors$/.test(name)) await rm(join(dir, name), { force: true });
      }
    },
  };
}
