import { describe, expect, test } from 'vitest';
import type { PlaygroundRequest, StudyClient } from '../eval/study-client';
import type { RunRecord } from '../train/protocol';
import { defaultRunConfig } from './run-setup';
import { createPlaygroundStore, playgroundRuns } from './playground';

const output = (text: string) => ({ text, tokens: text.length, tokensPerSecond: 10 });

function fakeClient(requests: PlaygroundRequest[]): StudyClient {
  return {
    run: async () => {},
    playground: async (request) => {
      requests.push(request);
      if (request.prompt === 'fail') throw new Error('out of memory');
      return { base: output('base'), adapted: request.run ? output('adapted') : null, onnx: request.onnx ? { ...output('onnx'), backend: 'wasm' } : null };
    },
    recipe: async () => null,
    dispose: () => {},
  };
}

const run = (id: string, checkpointStep?: number, cached = false): RunRecord => ({
  id, name: `run ${id}`, createdAt: 0, status: 'done', metrics: [], checkpointStep,
  config: { ...defaultRunConfig(), ...(cached ? { model: { source: 'cached' as const, id: 'm', name: 'm' } } : {}) },
});

describe('the playground store', () => {
  test('offers the runs that have a checkpoint', () => {
    expect(playgroundRuns([run('a', 4), run('b'), run('c', 2, true), run('imported', 0)]).map((r) => r.id)).toEqual(['a', 'c', 'imported']);
  });

  test('generates with the base model alone, then beside a run; says what failed', async () => {
    const requests: PlaygroundRequest[] = [];
    const runs = [run('a', 4)];
    const store = createPlaygroundStore({ client: () => fakeClient(requests), setupModel: () => ({ source: 'embedded', id: 'manyicl-tiny' }), runs: () => runs });
    await store.getState().generate();
    expect(store.getState().result).toEqual({ base: output('base'), adapted: null, onnx: null, runName: null });
    expect(requests[0]).toMatchObject({ prompt: 'q: 12+7\na:', maxNewTokens: 16, temperature: 0, merged: false, run: null, model: { source: 'embedded' } });

    store.getState().set({ runId: 'a', temperature: 0.7, merged: true });
    await store.getState().generate();
    expect(store.getState().result).toEqual({ base: output('base'), adapted: output('adapted'), onnx: null, runName: 'run a' });
    expect(requests[1]).toMatchObject({ temperature: 0.7, merged: true, run: { id: 'a', config: runs[0].config } });

    store.getState().set({ prompt: 'fail' });
    await store.getState().generate();
    expect(store.getState()).toMatchObject({ error: 'out of memory', busy: false });

    store.getState().set({ prompt: 'x', runId: 'gone' });
    await store.getState().generate();
    expect(store.getState()).toMatchObject({ error: 'That run is gone: choose another.', runId: null });
    expect(requests).toHaveLength(3);
  });
});
