import { beforeEach, describe, expect, test, vi } from 'vitest';
import { shouldReloadOnTakeover, trainingBusy, useAppUpdateStore } from './app-update';

describe('trainingBusy', () => {
  const runs = [
    { id: 'a', status: 'running' as const },
    { id: 'b', status: 'paused' as const },
    { id: 'c', status: 'loading' as const },
  ];
  test('a run that loads or trains, or a running study, makes a reload cut training short', () => {
    expect(trainingBusy(runs, 'a', undefined)).toBe(true);
    expect(trainingBusy(runs, 'c', 'done')).toBe(true);
    expect(trainingBusy(runs, null, 'running')).toBe(true);
  });
  test('a paused run (it goes on from its checkpoint) or nothing active does not', () => {
    expect(trainingBusy(runs, 'b', undefined)).toBe(false);
    expect(trainingBusy(runs, null, undefined)).toBe(false);
    expect(trainingBusy(runs, 'gone', 'error')).toBe(false);
  });
});

test('a takeover reloads the page when it asked, or when nothing trains', () => {
  expect(shouldReloadOnTakeover(true, true)).toBe(true);
  expect(shouldReloadOnTakeover(false, false)).toBe(true);
  expect(shouldReloadOnTakeover(false, true)).toBe(false);
});

describe('useAppUpdateStore', () => {
  beforeEach(() => useAppUpdateStore.setState({ waiting: false, reloading: false, tookOver: false, activate: null }));

  test('a waiting version is activated once, on the user\'s reload', async () => {
    const activate = vi.fn(async () => {});
    useAppUpdateStore.getState().updateWaiting(activate);
    expect(useAppUpdateStore.getState().waiting).toBe(true);
    expect(activate).not.toHaveBeenCalled();
    await useAppUpdateStore.getState().reload();
    await useAppUpdateStore.getState().reload();
    expect(activate).toHaveBeenCalledTimes(1);
    expect(useAppUpdateStore.getState().reloading).toBe(true);
  });

  test('after another tab let it take over, reload is a plain page reload', async () => {
    const activate = vi.fn(async () => {});
    const reload = vi.fn();
    vi.stubGlobal('location', { reload });
    useAppUpdateStore.getState().updateWaiting(activate);
    useAppUpdateStore.getState().tookOverElsewhere();
    await useAppUpdateStore.getState().reload();
    expect(activate).not.toHaveBeenCalled();
    expect(reload).toHaveBeenCalledTimes(1);
    vi.unstubAllGlobals();
  });

  test('dismiss hides the notice', () => {
    useAppUpdateStore.getState().updateWaiting(async () => {});
    useAppUpdateStore.getState().dismiss();
    expect(useAppUpdateStore.getState().waiting).toBe(false);
  });
});
