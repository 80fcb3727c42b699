import { describe, expect, test } from 'vitest';
import type { LoraConfig } from '../engine/peft';
import { flatOfHostAdapter } from '../export/adapter';
import { randomHostAdapter } from '../export/adapter.testing';
import type { ExportClient, ExportRequest } from '../export/export-client';
import { peftFilesOf } from '../export/peft';
import { EMBEDDED_SPEC } from '../model/embedded';
import type { Checkpoint } from '../train/checkpoints';
import type { RunRecord } from '../train/protocol';
import { type RunConfig, defaultRunConfig } from '../train/run-config';
import { createExportsStore } from './exports';

const run = (id: string, mode: RunConfig['mode']): RunRecord => ({
  id, name: `run ${id}`, createdAt: 0, status: 'done', metrics: [], checkpointStep: 4, config: { ...defaultRunConfig(), mode },
});

function setup(options: { failSave?: boolean } = {}) {
  const requests: ExportRequest[] = [];
  const downloads: string[] = [];
  const created: { config: RunConfig; name: string; from: string; id: string }[] = [];
  const deleted: string[] = [];
  const saved: Checkpoint[] = [];
  const kept = new Map<string, Float32Array>();
  const recipes: string[] = [];
  const client: ExportClient = {
    exportRun: async (request) => {
      requests.push(request);
      return { fileName: `${request.run.name}.zip`, bytes: new Uint8Array(4) };
    },
    dispose: () => {},
  };
  const runs = [run('lora', 'lora'), run('full', 'full')];
  const store = createExportsStore({
    createClient: () => client,
    findRun: (id) => runs.find((r) => r.id === id),
    study: () => null,
    setupConfig: () => ({ ...defaultRunConfig(), mode: 'full' }),
    specOf: async () => EMBEDDED_SPEC,
    createRun: (config, name, imported) => {
      const id = `new${created.length}`;
      created.push({ config, name, from: imported.from, id });
      return id;
    },
    deleteRun: async (id) => void deleted.push(id),
    saveCheckpoint: async (checkpoint) => {
      if (options.failSave) throw new Error('QuotaExceededError');
      saved.push(checkpoint);
    },
    saveInitialAdapter: async (runId, params) => void kept.set(runId, params),
    recipe: async (r) => {
      recipes.push(r.id);
      return { fileName: `${r.name}-recipe.zip`, bytes: new Uint8Array(2) };
    },
    pickFolder: null,
    download: (d) => void downloads.push(d.fileName),
  });
  return { store, requests, downloads, created, deleted, saved, kept, recipes };
}

const CONFIG: LoraConfig = { rank: 2, alpha: 8, targets: ['q_proj', 'down_proj'], useRslora: false };
function adapterFiles() {
  const adapter = randomHostAdapter(EMBEDDED_SPEC, CONFIG, 9);
  const files = peftFilesOf(adapter);
  return {
    flat: flatOfHostAdapter(adapter),
    files: Object.entries(files).map(([name, content]) => ({ name, bytes: typeof content === 'string' ? new TextEncoder().encode(content) : content })),
  };
}

describe('the exports store', () => {
  test('exports a run as a download with the chosen format and precision', async () => {
    const { store, requests, downloads } = setup();
    store.getState().set({ format: 'merged-safetensors', precision: 'bf16' });
    await store.getState().exportRun('lora', 'download');
    store.getState().set({ format: 'merged-gguf' });
    expect(store.getState().precision).toBe('f32'); // merged GGUF has no BF16
    store.getState().set({ precision: 'Q4_K' });
    await store.getState().exportRun('lora', 'download');
    expect(requests.map((r) => [r.run.id, r.format, r.options])).toEqual([
      ['lora', 'merged-safetensors', { dtype: 'bf16' }],
      ['lora', 'merged-gguf', { quant: 'Q4_K' }],
    ]);
    expect(downloads).toEqual(['run lora.zip', 'run lora.zip']);
    expect(store.getState()).toMatchObject({ busy: null, error: null, message: 'Downloaded run lora.zip' });
  });

  test('exports the cluster recipe of a LoRA run; a full-parameter run has none', async () => {
    const { store, recipes, downloads } = setup();
    await store.getState().exportRecipe('lora', 'download');
    await store.getState().exportRecipe('full', 'download');
    expect(recipes).toEqual(['lora']);
    expect(downloads).toEqual(['run lora-recipe.zip']);
    expect(store.getState().error).toMatch(/run full trained every weight: a cluster recipe trains a LoRA adapter/);
  });

  test('refuses an adapter format for a full-parameter run, without calling the worker', async () => {
    const { store, requests } = setup();
    await store.getState().exportRun('full', 'download');
    expect(requests).toEqual([]);
    expect(store.getState().error).toMatch(/trained every weight: it has no adapter to export as peft/);
  });

  test('imports an adapter as a LoRA run on the setup model, its checkpoint at step 0 holding the adapter', async () => {
    const { store, created, saved, kept } = setup();
    const { files, flat } = adapterFiles();
    const id = await store.getState().importAdapter({ kind: 'files', files });
    expect(id).toBe('new0');
    expect(created[0].config).toMatchObject({ mode: 'lora', lora: { rank: 2, alpha: 8, targets: ['q_proj', 'down_proj'] } });
    expect(created[0].name).toBe('adapter_model.safetensors (imported)');
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ runId: 'new0', step: 0, mode: 'lora' });
    expect(saved[0].params).toEqual(flat);
    expect(saved[0].cursor).toBeUndefined();
    expect(kept.get('new0')).toEqual(flat);
    expect(store.getState().importError).toBeNull();
  });

  test('an adapter for another model creates nothing; a failed checkpoint write removes the run', async () => {
    const other = setup();
    const { files } = adapterFiles();
    await other.store.getState().importAdapter({ kind: 'files', files: files.filter((f) => f.name !== 'adapter_model.safetensors') });
    expect(other.created).toEqual([]);
    expect(other.store.getState().importError).toMatch(/no adapter_model\.safetensors/);

    const failing = setup({ failSave: true });
    await failing.store.getState().importAdapter({ kind: 'files', files });
    expect(failing.deleted).toEqual(['new0']);
    expect(failing.store.getState().importError).toMatch(/QuotaExceededError/);
  });
});
