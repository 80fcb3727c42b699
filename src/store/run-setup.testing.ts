// A run-setup store for tests: nothing is fetched, and the character tokenizer stands in for the models'.
import { charTokenizer } from '../data/tokenizer';
import { type RunSetupDeps, createRunSetupStore } from './run-setup';

/** The store and the tokenizer sources it asked for: embedded-model URLs, or 'cached:<id>'. */
export function testRunSetupStore(deps: Partial<RunSetupDeps> = {}) {
  const requested: string[] = [];
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
    ...deps,
  });
  return { store, requested };
}
