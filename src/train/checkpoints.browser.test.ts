// Browser tests (Chromium, `gpu` project) of the IndexedDB checkpoint store: the atomic switch, the checksum,
// the format before checksums. A full disk during a save is tested in src/train/session.gpu.test.ts (Chromium's
// quota override does not reach vitest's test frame, and an e2e with it proved flaky).
import { createStore, get, keys, set } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { type Checkpoint, CorruptCheckpointError, createIndexedDbCheckpoints } from './checkpoints';

const inBrowser = typeof window !== 'undefined' && typeof indexedDB !== 'undefined';

function lora(runId: string, step: number, n = 64): Checkpoint {
  const fill = (k: number) => Float32Array.from({ length: n }, (_, i) => step * 1000 + k * n + i);
  return { runId, step, mode: 'lora', params: fill(0), m: fill(1), v: fill(2), savedAt: 1000 + step };
}

describe.runIf(inBrowser)('IndexedDB checkpoints', () => {
  const db = `test-checkpoints-${Math.random().toString(36).slice(2)}`;
  const checkpoints = createIndexedDbCheckpoints(db, 'checkpoints');
  const raw = inBrowser ? createStore(db, 'checkpoints') : (null as never);

  it('writes each checkpoint under its own key, points the run at it and drops the previous one', async () => {
    await checkpoints.save(lora('a', 2));
    await checkpoints.save(lora('a', 4));
    const loaded = await checkpoints.load('a');
    expect(loaded?.step).toBe(4);
    expect(Array.from((loaded!.params as Float32Array).slice(0, 3))).toEqual([4000, 4001, 4002]);
    expect((await keys(raw)).sort()).toEqual(['a', 'a@4@1004']);
    expect(await get('a', raw)).toEqual({ pointer: 1, key: 'a@4@1004', step: 4 });
    await checkpoints.remove('a');
    expect(await keys(raw)).toEqual([]);
  });

  it('round-trips a full-parameter checkpoint with a cursor', async () => {
    const full: Checkpoint = {
      runId: 'f', step: 3, mode: 'full', savedAt: 5,
      params: { 'b.weight': new Float32Array([1, 2]), 'a.weight': new Float32Array([3]) },
      m: new Float32Array([4, 5, 6]), v: new Float32Array([7, 8, 9]),
      cursor: { seed: 1, drawn: 7 } as unknown as Checkpoint['cursor'],
    };
    await checkpoints.save(full);
    expect(await checkpoints.load('f')).toEqual(full);
  });

  it('loads a checkpoint stored in the format before checksums', async () => {
    const old = lora('old', 6);
    await set('old', old, raw);
    expect(await checkpoints.load('old')).toEqual(old);
    await checkpoints.save(lora('old', 8)); // the next save moves it to the new format
    expect((await checkpoints.load('old'))?.step).toBe(8);
    expect((await keys(raw)).filter((k) => String(k).startsWith('old'))).toHaveLength(2);
  });

  it('refuses a damaged checkpoint in words', async () => {
    await checkpoints.save(lora('d', 2));
    const stored = await get<Checkpoint>('d@2@1002', raw);
    (stored!.m as Float32Array)[5] += 1;
    await set('d@2@1002', stored, raw);
    await expect(checkpoints.load('d')).rejects.toThrow(CorruptCheckpointError);
    await expect(checkpoints.load('d')).rejects.toThrow(/checkpoint of step 2 of run d is damaged/);
    await set('d', { pointer: 1, key: 'd@9@1', step: 9 }, raw);
    await expect(checkpoints.load('d')).rejects.toThrow(/step 9 of run d is missing/);
  });
});
