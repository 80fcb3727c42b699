// Exports from the UI: a trained run's PEFT adapter as a zip (the files PEFT reads, and the same bits as the
// run's checkpoint), imported back as a run that starts from it; and its ONNX folder as a zip that
// onnxruntime-node runs.
import { readFile } from 'node:fs/promises';
import { type Page, expect, test } from '@playwright/test';
import { unzipSync } from 'fflate';
import { EMBEDDED_SPEC } from '../src/model/embedded';
import { hostAdapterOfFlat } from '../src/export/adapter';
import { readPeftAdapter } from '../src/export/peft';
import * as ort from 'onnxruntime-node';
import { type MakeTensor, type OrtSessionLike, decoderPass } from '../src/reference/onnx-feed.testing';
import { loadTokenizer } from '../src/model/tokenizer';
import { createAndStart, fillRunSettings } from './run-setup';

/** Greedy continuation of `prompt` by an exported ONNX model in onnxruntime-node, fed as transformers.js feeds it. */
async function ortGreedy(graph: Uint8Array, prompt: number[], maxNewTokens: number, eos: number | null): Promise<number[]> {
  const session = (await ort.InferenceSession.create(graph)) as unknown as OrtSessionLike;
  const make: MakeTensor = (type, data, dims) => new ort.Tensor(type, data, dims);
  const V = EMBEDDED_SPEC.vocabSize;
  const out: number[] = [];
  let ids = prompt;
  let mask = prompt.map(() => 1);
  let past = null;
  while (out.length < maxNewTokens) {
    const step = await decoderPass(session, make, EMBEDDED_SPEC, [ids], [mask], past);
    const last = step.logits.subarray((ids.length - 1) * V, ids.length * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
    out.push(best);
    if (best === eos) break;
    past = step.present;
    ids = [best];
    mask = [...mask, 1];
  }
  return out;
}

/** A run's checkpoint parameters, read from IndexedDB in the page. */
async function checkpointParams(page: Page, runId: string): Promise<{ step: number; params: number[] }> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-checkpoints');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const read = (key: string) => new Promise<{ step: number; params: Float32Array } & { pointer?: 1; key: string }>((resolve) => {
      const request = db.transaction('checkpoints').objectStore('checkpoints').get(key);
      request.onsuccess = () => resolve(request.result);
    });
    // The run's key points at its checkpoint (src/train/checkpoints.ts); before, it held the checkpoint.
    const entry = await read(id);
    const checkpoint = entry.pointer ? await read(entry.key) : entry;
    db.close();
    return { step: checkpoint.step, params: [...checkpoint.params] };
  }, runId);
}

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Uint8Array }> {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), click()]);
  return { name: file.suggestedFilename(), bytes: new Uint8Array(await readFile(await file.path())) };
}

test('exports a trained run as PEFT, ONNX and cluster-recipe zips, and imports the PEFT adapter back', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto('/');
  await fillRunSettings(page, { lora: true, contextLength: 48, steps: 2, checkpointEvery: 2 });
  await createAndStart(page, 'export me');
  await expect(page.getByTestId('run-status')).toHaveText(/^done/, { timeout: 600_000 });
  const runId = (await page.locator('tr.selected').getAttribute('data-run-id'))!;
  const trained = await checkpointParams(page, runId);
  expect(trained.step).toBe(2);

  // PEFT: a zip with the adapter, its config and a model card; the tensors are the checkpoint's, bit for bit.
  const panel = page.getByTestId('export');
  await panel.getByTestId('export-format').selectOption('peft');
  const peft = await download(page, () => panel.getByTestId('export-download').click());
  expect(peft.name).toBe('export-me-peft.zip');
  const files = unzipSync(peft.bytes);
  expect(Object.keys(files).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
  const adapter = readPeftAdapter((name) => files[name], EMBEDDED_SPEC, peft.name);
  const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
  expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: adapter.config.rank, lora_dropout: 0 });
  const fromCheckpoint = hostAdapterOfFlat(EMBEDDED_SPEC, adapter.config, Float32Array.from(trained.params));
  for (const [key, data] of fromCheckpoint.tensors) expect(adapter.tensors.get(key), key).toEqual(data);
  const card = new TextDecoder().decode(files['README.md']);
  expect(card).toContain('library_name: peft');
  expect(card).toContain('# export me');
  expect(card).toMatch(/Steps: 2, context length 48/);

  // Imported back: a new run whose step-0 checkpoint holds the same bits.
  await page.getByTestId('import-adapter').locator('summary').click();
  await page.getByTestId('import-adapter-files').setInputFiles({ name: peft.name, mimeType: 'application/zip', buffer: Buffer.from(peft.bytes) });
  await expect(page.getByTestId('experiments')).toContainText('export-me-peft.zip (imported)');
  const importedId = (await page.locator('tr.selected').getAttribute('data-run-id'))!;
  expect(importedId).not.toBe(runId);
  const imported = await checkpointParams(page, importedId);
  expect(imported.step).toBe(0);
  expect(imported.params).toEqual(trained.params);
  await expect(page.getByTestId('import-adapter-error')).toHaveCount(0);

  // ONNX: the trained run's folder as a zip; onnxruntime-node continues a prompt as our engine does in the page,
  // and the playground's onnxruntime-web run of the same export agrees.
  await page.getByTestId('experiments').getByRole('button', { name: 'export me', exact: true }).click();
  await panel.getByTestId('export-format').selectOption('onnx');
  const onnx = await download(page, () => panel.getByTestId('export-download').click());
  expect(onnx.name).toBe('export-me-onnx.zip');
  const folder = unzipSync(onnx.bytes);
  expect(Object.keys(folder).sort()).toEqual(
    ['config.json', 'generation_config.json', 'onnx/model.onnx', 'onnx/model_fp16.onnx', 'tokenizer.json', 'tokenizer_config.json'],
  );
  const json = (name: string) => JSON.parse(new TextDecoder().decode(folder[name]));
  expect(json('config.json')).toMatchObject({ model_type: 'llama', num_hidden_layers: EMBEDDED_SPEC.numLayers });

  const prompt = 'q: 2+3\na:';
  const playground = page.getByTestId('playground');
  await playground.getByTestId('playground-prompt').fill(prompt);
  await playground.getByTestId('playground-run').selectOption({ label: 'export me (step 2)' });
  await playground.getByTestId('playground-tokens').fill('6');
  await playground.getByTestId('playground-onnx').check();
  await playground.getByTestId('playground-generate').click();
  await expect(playground.getByTestId('playground-onnx-output')).toBeVisible({ timeout: 300_000 });
  const engineText = (await playground.getByTestId('playground-adapted').locator('pre').textContent()) ?? '';
  expect(await playground.getByTestId('playground-onnx-output').locator('pre').textContent()).toBe(engineText);

  const tokenizer = loadTokenizer({ tokenizer: json('tokenizer.json'), config: json('tokenizer_config.json') });
  const ids = [...(tokenizer.bosId !== null ? [tokenizer.bosId] : []), ...tokenizer.encode(prompt)];
  const tokens = await ortGreedy(folder['onnx/model.onnx'], ids, 6, tokenizer.eosId);
  expect(tokenizer.decode(tokens)).toBe(engineText);

  // The cluster recipe: its parity check carries our engine's first-step loss, the loss the run logged at step 1.
  const recipe = await download(page, () => panel.getByTestId('export-recipe').click());
  expect(recipe.name).toBe('export-me-recipe.zip');
  const recipeFiles = unzipSync(recipe.bytes);
  for (const name of ['train.py', 'check_parity.py', 'data/train.jsonl', 'parity.json', 'README.md', 'accelerate/deepspeed_zero3.yaml']) {
    expect(Object.keys(recipeFiles), name).toContain(name);
  }
  const parity = JSON.parse(new TextDecoder().decode(recipeFiles['parity.json']));
  const firstLoss = await page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-workbench');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const run = await new Promise<{ metrics: { loss: number }[] }>((resolve) => {
      const request = db.transaction('runs').objectStore('runs').get(id);
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    return run.metrics[0].loss;
  }, runId);
  expect(Math.abs(parity.engine_loss - firstLoss) / firstLoss).toBeLessThan(1e-6);

  // The imported run's recipe starts from the adapter it was imported from, not from its seed.
  await page.getByTestId('experiments').getByRole('button', { name: 'export-me-peft.zip (imported)', exact: true }).click();
  const importedRecipe = unzipSync((await download(page, () => panel.getByTestId('export-recipe').click())).bytes);
  const init = readPeftAdapter((name) => importedRecipe[`init_adapter/${name}`], EMBEDDED_SPEC, 'init_adapter');
  for (const [key, data] of fromCheckpoint.tensors) expect(init.tensors.get(key), key).toEqual(data);
});
