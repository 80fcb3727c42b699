// A run-setup store for tests: nothing is fetched, the character tokenizer stands in for the models', and the
// runs it creates go to a runs store in memory whose training client only records what it is asked to start.
import { charTokenizer } from '../data/tokenizer';
import { type RunSetupDeps, createRunSetupStore } from './run-setup';
import { createRunsStore } from './runs';
import { memoryRunStorage } from './runs.testing';

/** The store, the tokenizer sources it asked for (embedded-model URLs, or 'cached:<id>'), its runs store and the runs started. */
export function testRunSetupStore(deps: Partial<RunSetupDeps> = {}) {
  const requested: string[] = [];
  const started: string[] = [];
  let nextId = 0;
  const runs = createRunsStore({
    storage: memoryRunStorage(),
    createClient: () => ({
      start: async (run) => void started.push(run.id),
      pause: async () => {},
      resume: async () => {},
      stop: async () => {},
      dispose: () => {},
    }),
    deleteCheckpoint: async () => {},
    now: () => 1000 + nextId,
    newId: () => `run-${++nextId}`,
    persistDelayMs: 0,
    eventBatchMs: 0,
  });
  const store = createRunSetupStore({
    fetchTokenizer: async (url) => {
      requested.push(url);
      if (url.includes('broken')) throw new Error('HTTP 404');
      return charTokenizer();
    },
    cachedTokenizer: async (id) => {
      requested.push(`cached:${id}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return charTokenizer('abc xyz');
    },
    fetchHfRows: async () => ({ rows: [], numRowsTotal: 0, features: [], truncatedRows: [] }),
    embeddedModelUrl: () => 'http://localhost/models/manyicl-tiny/',
    runs: () => runs.getState(),
    ...deps,
  });
  return { store, requested, runs, started };
}
