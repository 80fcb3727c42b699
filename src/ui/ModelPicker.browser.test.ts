// Clicks in the model picker's pieces, rendered into the test page's DOM (Chromium, `gpu` project; in Node
// the `unit` project also matches this file, and it skips). No JSX here: the browser project takes .ts files.
import { act, createElement } from 'react';
import { type Root, createRoot } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { CachedModel } from '../model/sources/library';
import { type ModelsState, createModelsStore } from '../store/models';
import type { RunConfig } from '../train/run-config';
import { CachedModelList } from './CachedModels';
import { ModelSources, type ModelSourceActions } from './ModelSources';

const inBrowser = typeof document !== 'undefined';
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const GGUF: CachedModel = {
  id: 'url-1',
  name: 'tiny.gguf',
  origin: { kind: 'url', url: 'https://example.org/tiny.gguf' },
  format: 'gguf',
  weights: ['https://example.org/tiny.gguf'],
  bytes: 3 * 1024 * 1024,
  addedAt: 1,
};
const SAFETENSORS: CachedModel = { ...GGUF, id: 'hub-2', name: 'org/model', format: 'safetensors', origin: { kind: 'hub', repo: 'org/model', revision: 'main' } };

let root: Root | null = null;
let host: HTMLElement | null = null;

async function render(element: ReturnType<typeof createElement>): Promise<HTMLElement> {
  host = document.createElement('div');
  document.body.append(host);
  root = createRoot(host);
  await act(async () => root?.render(element));
  return host;
}

afterEach(async () => {
  await act(async () => root?.unmount());
  host?.remove();
  root = null;
  host = null;
});

async function click(element: Element | null): Promise<void> {
  if (!element) throw new Error('nothing to click');
  await act(async () => (element as HTMLElement).click());
}

/** Sets an input's or select's value the way typing does, so React sees the change. */
async function setValue(element: Element | null, value: string): Promise<void> {
  if (!element) throw new Error('no field');
  const prototype = element instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(prototype, 'value')?.set?.call(element, value);
  await act(async () => {
    element.dispatchEvent(new Event(element instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
  });
}

function storeWithModels() {
  const deleted: string[] = [];
  const store = createModelsStore({
    library: {
      list: async () => [GGUF, SAFETENSORS].filter((m) => !deleted.includes(m.id)),
      delete: async (id) => void deleted.push(id),
      addHubModel: () => Promise.reject(new Error('unused')),
      addUrlModel: () => Promise.reject(new Error('unused')),
      addLocalFiles: () => Promise.reject(new Error('unused')),
    },
    tokenStorage: null,
    estimateStorage: async () => ({ usage: 1, quota: 2 }),
    requestPersistence: async () => false,
  });
  return { store, deleted };
}

describe.runIf(inBrowser)('CachedModelList', () => {
  it('Delete asks first, then calls the store, which deletes the model from the library', async () => {
    const { store, deleted } = storeWithModels();
    await store.getState().refresh();
    const state = store.getState();
    const page = await render(
      createElement(CachedModelList, {
        models: state.models,
        loaded: true,
        storage: state.storage,
        chosen: { source: 'embedded', id: 'manyicl-tiny' },
        onUse: () => {},
        onDelete: (id: string) => void store.getState().deleteModel(id),
      }),
    );
    await click(page.querySelector('[aria-label="Delete tiny.gguf"]'));
    expect(page.textContent).toContain('Delete it and free 3 MiB?');
    await click([...page.querySelectorAll('button')].find((b) => b.textContent === 'Keep') ?? null);
    expect(page.querySelector('[data-testid="confirm-delete"]')).toBeNull();
    expect(deleted).toEqual([]);

    await click(page.querySelector('[aria-label="Delete tiny.gguf"]'));
    await click(page.querySelector('[data-testid="confirm-delete"]'));
    await act(async () => {}); // the store's delete and refresh
    expect(deleted).toEqual(['url-1']);
    expect(store.getState().models.map((m) => m.id)).toEqual(['hub-2']);
  });

  it('Use picks the model as the run base model, with the quantization chosen for it', async () => {
    const picked: RunConfig['model'][] = [];
    const props = { models: [GGUF, SAFETENSORS], loaded: true, storage: null, onUse: (m: RunConfig['model']) => picked.push(m), onDelete: () => {} };
    const page = await render(createElement(CachedModelList, { ...props, chosen: { source: 'embedded', id: 'manyicl-tiny' } }));
    await click(page.querySelector('[aria-label="Use tiny.gguf"]'));
    expect(picked).toEqual([{ source: 'cached', id: 'url-1', name: 'tiny.gguf' }]);

    await setValue(page.querySelector('[data-model-id="hub-2"] select'), 'Q8_0');
    expect(picked).toHaveLength(1); // not in use yet: kept for when it is picked
    await click(page.querySelector('[aria-label="Use org/model"]'));
    expect(picked[1]).toEqual({ source: 'cached', id: 'hub-2', name: 'org/model', quantize: 'Q8_0' });

    // In use: changing the quantization picks it again.
    await act(async () => root?.render(createElement(CachedModelList, { ...props, chosen: picked[1] })));
    await setValue(page.querySelector('[data-model-id="hub-2"] select'), '');
    expect(picked[2]).toEqual({ source: 'cached', id: 'hub-2', name: 'org/model' });
  });
});

describe.runIf(inBrowser)('ModelSources', () => {
  function recordingActions() {
    const calls: [string, ...unknown[]][] = [];
    const actions: ModelSourceActions = {
      addFromHub: async (form) => (calls.push(['addFromHub', form]), null),
      addFromUrl: async (url) => (calls.push(['addFromUrl', url]), null),
      addFromFiles: async (files, name) => (calls.push(['addFromFiles', files.map((f) => f.name), name]), null),
      cancel: () => void calls.push(['cancel']),
      setHubToken: (token) => void calls.push(['setHubToken', token]),
      forgetHubToken: () => void calls.push(['forgetHubToken']),
      dismiss: () => void calls.push(['dismiss']),
    };
    return { calls, actions };
  }

  it('sends the Hub and URL forms, and files dropped on the drop zone', async () => {
    const { calls, actions } = recordingActions();
    const page = await render(createElement(ModelSources, { transfer: null, error: null, notice: null, hubToken: '', actions }));
    await setValue(page.querySelector('[data-testid="hub-repo"]'), 'org/model');
    await setValue(page.querySelector('[data-testid="hub-file"]'), 'm.Q4_0.gguf');
    await setValue(page.querySelector('[data-testid="hub-token"]'), 'hf_abc');
    await click(page.querySelector('[data-testid="hub-download"]'));
    await setValue(page.querySelector('[data-testid="model-url"]'), 'https://example.org/m.gguf');
    await click(page.querySelector('[data-testid="url-download"]'));

    const dropped = new DataTransfer();
    dropped.items.add(new File(['GGUF'], 'dropped.gguf'));
    await act(async () => {
      page.querySelector('[data-testid="model-drop-zone"]')?.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dropped }));
    });
    await act(async () => {}); // the files are read asynchronously
    expect(calls).toEqual([
      ['setHubToken', 'hf_abc'],
      ['addFromHub', { repo: 'org/model', revision: 'main', file: 'm.Q4_0.gguf' }],
      ['addFromUrl', 'https://example.org/m.gguf'],
      ['addFromFiles', ['dropped.gguf'], undefined],
    ]);
  });

  it('Cancel cancels the running transfer', async () => {
    const { calls, actions } = recordingActions();
    let cancelled = 0;
    const transfer: ModelsState['transfer'] = {
      label: 'tiny.gguf', file: 'tiny.gguf', loaded: 10, total: 100, bytesPerSecond: 5, etaSeconds: 18, cancel: () => void (cancelled += 1),
    };
    const page = await render(createElement(ModelSources, { transfer, error: null, notice: null, hubToken: '', actions }));
    const bar = page.querySelector('progress') as HTMLProgressElement;
    expect([bar.value, bar.max]).toEqual([10, 100]);
    await click(page.querySelector('[data-testid="cancel-transfer"]'));
    expect(cancelled).toBe(1);
    expect(calls).toEqual([]);
  });
});
