// The adapter a run started from when it was imported: kept apart from its checkpoint (which training replaces),
// so that the run's cluster recipe starts where the run started.
import { createStore, del, get, set } from 'idb-keyval';

let opened: ReturnType<typeof createStore> | null = null;
const store = () => (opened ??= createStore('manyicl-initial-adapters', 'adapters'));

export async function saveInitialAdapter(runId: string, params: Float32Array): Promise<void> {
  await set(runId, params, store());
}

export async function loadInitialAdapter(runId: string): Promise<Float32Array | undefined> {
  return get<Float32Array>(runId, store());
}

export async function deleteInitialAdapter(runId: string): Promise<void> {
  await del(runId, store());
}
