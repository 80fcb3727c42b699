// Run storage for tests: records kept in memory, copied in and out as IndexedDB would.
import type { RunRecord } from '../train/protocol';
import type { RunStorage } from './runs';

export function memoryRunStorage(initial: readonly RunRecord[] = []): RunStorage & { records: Map<string, RunRecord> } {
  const records = new Map(initial.map((r) => [r.id, structuredClone(r)]));
  return {
    records,
    loadAll: async () => [...records.values()].map((r) => structuredClone(r)),
    save: async (record) => void records.set(record.id, structuredClone(record)),
    remove: async (id) => void records.delete(id),
  };
}
