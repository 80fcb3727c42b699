// Checkpoints in IndexedDB: what a run needs to go on exactly where it stopped after a reload or a crash.
import { createStore, del, get, set } from 'idb-keyval';
import type { StreamCursor } from '../data/packer';

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

let opened: ReturnType<typeof createStore> | null = null;
/** Opened on first use: importing this module must work where there is no IndexedDB (Node). */
const store = () => (opened ??= createStore('manyicl-checkpoints', 'checkpoints'));

export const indexedDbCheckpoints: CheckpointStore = {
  load: (runId) => get<Checkpoint>(runId, store()),
  save: (checkpoint) => set(checkpoint.runId, checkpoint, store()),
};

export async function loadCheckpoint(runId: string): Promise<Checkpoint | undefined> {
  return indexedDbCheckpoints.load(runId);
}

export async function deleteCheckpoint(runId: string): Promise<void> {
  await del(runId, store());
}
