// Checkpoints in IndexedDB: what a run needs to go on exactly where it stopped after a reload or a crash.
//
// A checkpoint is written whole under a new key (`runId@step@savedAt`); then one transaction points the run's
// key at it, and only then is the previous one deleted. A save that fails (the storage is full) therefore
// leaves the previous checkpoint as it was. Each one carries a sha256 of its arrays and metadata, which a load
// checks: a damaged checkpoint is refused, never trained on. Older checkpoints (the whole Checkpoint stored
// under the run's key, no checksum) still load.
import { sha256 } from '@noble/hashes/sha2.js';
import { createStore, delMany, get, keys } from 'idb-keyval';
import type { StreamCursor } from '../data/packer';
import { isQuotaError } from '../util/errors';

export interface Checkpoint {
  runId: string;
  /** Optimizer steps done. */
  step: number;
  mode: 'full' | 'lora';
  /** LoRA: the flat adapter; full: every weight by HF name. */
  params: Float32Array | Record<string, Float32Array>;
  /** AdamW moments, flat, in the trainable's order. */
  m: Float32Array;
  v: Float32Array;
  /** Where the data stream goes on; absent for an imported adapter (training starts at the stream's beginning). */
  cursor?: StreamCursor;
  savedAt: number;
}

export interface CheckpointStore {
  load(runId: string): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** What the run's key holds: where its current checkpoint is. */
interface CheckpointPointer {
  pointer: 1;
  key: string;
  step: number;
}

/** A checkpoint as stored under its own key. */
interface StoredCheckpoint extends Checkpoint {
  /** Hex sha256 of `checkpointDigestInput` (see `checkpointChecksum`). */
  sha256: string;
}

/** The save failed because the browser's storage is full; the previous checkpoint is untouched. */
export class CheckpointStorageFullError extends Error {
  constructor(readonly step: number, cause: unknown) {
    super(`the browser's storage is full: could not save the checkpoint of step ${step}`, { cause });
    this.name = 'CheckpointStorageFullError';
  }
}

/** The stored checkpoint does not match its checksum (or is missing): it is not used. */
export class CorruptCheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptCheckpointError';
  }
}

/**
 * The checkpoint's sha256: of the metadata as JSON, then of each array's bytes in a fixed order. sha256 rather
 * than a CRC: noble's sha256 runs at a few hundred MB/s, a small cost beside reading the arrays back from the
 * GPU and writing them to IndexedDB, and the app already uses it for the model cache.
 */
export function checkpointChecksum(checkpoint: Checkpoint): string {
  const hash = sha256.create();
  const { runId, step, mode, cursor, savedAt } = checkpoint;
  hash.update(new TextEncoder().encode(JSON.stringify({ runId, step, mode, cursor: cursor ?? null, savedAt })));
  const arrays: Float32Array[] = [];
  if (checkpoint.params instanceof Float32Array) arrays.push(checkpoint.params);
  else {
    for (const name of Object.keys(checkpoint.params).sort()) {
      hash.update(new TextEncoder().encode(name));
      arrays.push(checkpoint.params[name]);
    }
  }
  arrays.push(checkpoint.m, checkpoint.v);
  for (const a of arrays) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return Array.from(hash.digest(), (b) => b.toString(16).padStart(2, '0')).join('');
}

const isPointer = (value: unknown): value is CheckpointPointer => typeof value === 'object' && value !== null && 'pointer' in value;

/** Puts one value and resolves when its transaction has committed (a full disk shows as an abort at commit). */
function putCommitted(s: IDBObjectStore, value: unknown, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = s.transaction;
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
    s.put(value, key);
  });
}

/** A CheckpointStore in an IndexedDB object store (the app's: 'manyicl-checkpoints'/'checkpoints'). */
export function createIndexedDbCheckpoints(dbName = 'manyicl-checkpoints', storeName = 'checkpoints'): CheckpointStore & { remove(runId: string): Promise<void> } {
  let opened: ReturnType<typeof createStore> | null = null;
  /** Opened on first use: importing this module must work where there is no IndexedDB (Node). */
  const store = () => (opened ??= createStore(dbName, storeName));
  /** Keys of the run's checkpoints written under their own key (current, or left by an interrupted save). */
  const ownKeys = async (runId: string) => (await keys<string>(store())).filter((k) => typeof k === 'string' && k.startsWith(`${runId}@`));

  return {
    async load(runId) {
      const entry = await get<Checkpoint | CheckpointPointer>(runId, store());
      if (!entry) return undefined;
      if (!isPointer(entry)) return entry; // the format before checksums
      const stored = await get<StoredCheckpoint>(entry.key, store());
      if (!stored) throw new CorruptCheckpointError(`the checkpoint of step ${entry.step} of run ${runId} is missing from the browser's storage`);
      const { sha256: expected, ...checkpoint } = stored;
      if (checkpoint.step !== entry.step || checkpointChecksum(checkpoint) !== expected) {
        throw new CorruptCheckpointError(
          `the checkpoint of step ${entry.step} of run ${runId} is damaged (its checksum does not match), so it is not used: delete the run or start a new one`,
        );
      }
      return checkpoint;
    },

    async save(checkpoint) {
      const key = `${checkpoint.runId}@${checkpoint.step}@${checkpoint.savedAt}`;
      const stored: StoredCheckpoint = { ...checkpoint, sha256: checkpointChecksum(checkpoint) };
      try {
        // 1. the new checkpoint under its own key; the run's key still points at the previous one
        await store()('readwrite', (s) => putCommitted(s, stored, key));
        // 2. the switch: one small record, in one transaction
        const pointer: CheckpointPointer = { pointer: 1, key, step: checkpoint.step };
        await store()('readwrite', (s) => putCommitted(s, pointer, checkpoint.runId));
      } catch (error) {
        await delMany([key], store()).catch(() => {});
        if (isQuotaError(error)) throw new CheckpointStorageFullError(checkpoint.step, error);
        throw error;
      }
      // 3. the previous checkpoint (and any left by an interrupted save) goes
      const stale = (await ownKeys(checkpoint.runId)).filter((k) => k !== key);
      if (stale.length > 0) await delMany(stale, store());
    },

    async remove(runId) {
      await delMany([runId, ...(await ownKeys(runId))], store());
    },
  };
}

const app = createIndexedDbCheckpoints();

export const indexedDbCheckpoints: CheckpointStore = app;

export async function loadCheckpoint(runId: string): Promise<Checkpoint | undefined> {
  return app.load(runId);
}

export async function deleteCheckpoint(runId: string): Promise<void> {
  await app.remove(runId);
}
