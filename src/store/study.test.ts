import { describe, expect, test } from 'vitest';
import type { StudyClient } from '../eval/study-client';
import type { StudyConfig, StudyEvent, StudyUnit } from '../eval/study';
import { defaultRunConfig } from './run-setup';
import {
  type StudyRecord, type StudyStorage, createStudyStore, settingsOf, studyConfig, studyCsv, studyCurve, studyEta, studyProblem, studyResult,
} from './study';

function unit(key: string, method: StudyUnit['method'], score: number, finishedAt = 1): StudyUnit {
  const result = (task: string, shots: number, s: number) => ({ task, family: 'math' as const, shots, scores: { exact_match: s }, score: s, predictions: [] });
  return {
    key, method, trainedTokens: method === 'base' ? 0 : 100, steps: method === 'base' ? 0 : 2, finishedAt,
    results: [result('arithmetic', 0, score), result('arithmetic', 4, score / 2)], forgetting: [result('nli', 0, method === 'base' ? 0.5 : 0.25)],
  };
}

function memoryStorage(initial?: StudyRecord): StudyStorage & { saved: StudyRecord[] } {
  let record = initial;
  const saved: StudyRecord[] = [];
  return { saved, load: async () => record, save: async (r) => void (saved.push(r), (record = r)) };
}

/** A client that plays the given units, as the worker would, skipping those it is told are done. */
function fakeClient(units: StudyUnit[], runs: { completed: string[] }[]): StudyClient {
  return {
    run: async (_config: StudyConfig, completed: StudyUnit[], onEvent: (event: StudyEvent) => void) => {
      runs.push({ completed: completed.map((u) => u.key) });
      units.forEach((u, i) => {
        if (!completed.some((c) => c.key === u.key)) onEvent({ type: 'unit', unit: u });
        onEvent({ type: 'progress', done: i + 1, total: units.length });
      });
      onEvent({ type: 'status', status: 'done' });
    },
    playground: async () => Promise.reject(new Error('not in these tests')),
    recipe: async () => null,
    dispose: () => {},
  };
}

const config = { ...defaultRunConfig(), tasks: [{ task: 'arithmetic', weight: 1 }] };

describe('the study store', () => {
  test('one click runs the study of the run setup and keeps every unit', async () => {
    const storage = memoryStorage();
    const runs: { completed: string[] }[] = [];
    const units = [unit('base', 'base', 0.5), unit('manyicl', 'manyicl', 1)];
    const store = createStudyStore({ storage, createClient: () => fakeClient(units, runs), setupConfig: () => config, now: () => 1000 });
    store.getState().setSettings({ forgetting: ['nli', 'arithmetic'], shots: [0, 4], examples: 3 });
    await store.getState().start();
    const study = store.getState().study!;
    expect(study.status).toBe('done');
    expect(study.units.map((u) => u.key)).toEqual(['base', 'manyicl']);
    expect(study.total).toBe(2);
    // A task of the mixture is no forgetting task.
    expect(study.config.forgetting).toEqual(['nli']);
    expect(study.config.evaluation).toMatchObject({ shots: [0, 4], examples: 3 });
    expect(storage.saved.at(-1)).toEqual(study);
    expect(runs).toEqual([{ completed: [] }]);
  });

  test('a study that was running when the page went away resumes without redoing its units', async () => {
    const done = unit('base', 'base', 0.5, 7);
    const saved: StudyRecord = {
      id: 'study-x', createdAt: 1, config: studyConfig(config, { forgetting: ['nli'], shots: [0, 2], examples: 5, maxAnswerTokens: 4, rankLabels: true }),
      units: [done], total: 2, status: 'running',
    };
    const storage = memoryStorage(saved);
    const runs: { completed: string[] }[] = [];
    const store = createStudyStore({ storage, createClient: () => fakeClient([unit('base', 'base', 0.9, 99), unit('manyicl', 'manyicl', 1)], runs), setupConfig: () => config, now: () => 0 });
    await store.getState().load();
    expect(runs).toEqual([{ completed: ['base'] }]);
    const study = store.getState().study!;
    expect(study.units).toEqual([done, unit('manyicl', 'manyicl', 1)]);
    expect(study.status).toBe('done');
    expect(store.getState().settings).toEqual({ forgetting: ['nli'], shots: [0, 2], examples: 5, maxAnswerTokens: 4, rankLabels: true });
    expect(settingsOf(study.config)).toEqual(store.getState().settings);
  });

  test('refuses a setup it cannot study, and says why', async () => {
    expect(studyProblem({ ...config, mode: 'full', model: { source: 'cached', id: 'x', name: 'x' } })).toMatch(/set the mode to LoRA/);
    expect(studyProblem({ ...config, mode: 'lora', model: { source: 'cached', id: 'x', name: 'x' } })).toBeNull();
    expect(studyProblem({ ...config, tasks: [] })).toMatch(/at least one task/);
    expect(studyProblem(config)).toBeNull();
    const store = createStudyStore({ storage: memoryStorage(), createClient: () => fakeClient([], []), setupConfig: () => ({ ...config, tasks: [] }), now: () => 0 });
    await store.getState().start();
    expect(store.getState().study).toBeNull();
    expect(store.getState().notice).toMatch(/at least one task/);
  });

  test('results, curves, CSV and ETA', () => {
    const record: StudyRecord = {
      id: 's', createdAt: 0, config: studyConfig(config, { forgetting: ['nli'], shots: [0, 4], examples: 1, maxAnswerTokens: 2, rankLabels: false }),
      units: [unit('base', 'base', 0.5), unit('manyicl', 'manyicl', 1)], total: 4, status: 'running',
    };
    const result = studyResult(record);
    expect(studyCurve(result, 'arithmetic')).toEqual({ shots: [0, 4], methods: ['base', 'manyicl'], series: [[0.5, 0.25], [1, 0.5]] });
    expect(studyCsv(result)).toBe('task,method,shots,score,exact_match\narithmetic,base,0,0.5,0.5\narithmetic,base,4,0.25,0.25\narithmetic,manyicl,0,1,1\narithmetic,manyicl,4,0.5,0.5\n');
    expect(result.forgetting).toEqual([{ method: 'manyicl', rows: [{ task: 'nli', shots: 0, before: 0.5, after: 0.25, drop: 0.25 }], meanDrop: 0.25 }]);
    // Two of four units took 10 s since this page started with one done: one unit in 10 s, two to go.
    expect(studyEta(record, { startedAt: 0, unitsAtStart: 1 }, 10_000)).toBe(20);
    expect(studyEta(record, { startedAt: 0, unitsAtStart: 2 }, 10_000)).toBeNull();
  });
});
