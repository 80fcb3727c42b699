// What a new user sets up, end to end in the built app (#15): a tab-separated .csv imported as a task and the
// quick demo preset, both still there after a reload; the demo trains on the imported data to the end on the
// adapter at hand; "New run" from the experiments list reproduces the run's config; and a model without a
// tokenizer is flagged when added and cannot start a run.
import { type Page, expect, test } from '@playwright/test';
import { baseWeights } from '../src/engine/spec';
import { EMBEDDED_SPEC } from '../src/model/embedded';
import { ggufFromHfModel } from '../src/model/gguf/convert';
import type { RunConfig } from '../src/train/run-config';
import { type FileServer, startFileServer } from './file-server';

async function storedConfigs(page: Page): Promise<{ name: string; config: RunConfig }[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-workbench');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const runs = await new Promise<{ name: string; config: RunConfig; createdAt: number }[]>((resolve) => {
      const request = db.transaction('runs').objectStore('runs').getAll();
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    return runs.sort((a, b) => a.createdAt - b.createdAt).map(({ name, config }) => ({ name, config }));
  });
}

/** Sentences and labels, tab-separated although the file is named .csv. */
function reviewsTsv(): string {
  const good = ['a fine film', 'great acting', 'i loved it', 'a joy to watch', 'wonderful story', 'so good', 'truly great', 'lovely music'];
  const bad = ['a dull film', 'poor acting', 'i hated it', 'a pain to watch', 'boring story', 'so bad', 'truly awful', 'noisy music'];
  const rows = good.flatMap((g, i) => [`${g}\tgood`, `${bad[i]}\tbad`]);
  return `sentence\tlabel\n${rows.join('\n')}\n`;
}

test('an imported CSV and the quick demo survive a reload, train to the end, and seed an identical new run', async ({ page }, testInfo) => {
  test.setTimeout(900_000);
  await page.goto('/');
  await expect(page.getByTestId('gpu-badge')).toHaveText(/^WebGPU · (?!checking)/); // the adapter is ready (its details are in the badge's popover)
  const field = (label: string) => page.getByLabel(label, { exact: true });

  // The quick demo, sized to the adapter (tiny on SwiftShader).
  const software = (await page.getByTestId('adapter-software').count()) > 0;
  await page.getByTestId('quick-demo-apply').click();
  await expect(field('Steps')).toHaveValue(software ? '8' : '100');
  await expect(field('Context length')).toHaveValue(software ? '64' : '256');
  await expect(page.getByTestId('duration-estimate')).toContainText(software ? /Estimated duration: about \d+ (s|min)/ : /No estimate of the duration yet/);

  // A tab-separated file named .csv, whose name is taken by a built-in task: read by its tabs, a free name offered.
  const panel = page.getByTestId('import-panel');
  await panel.getByText('From a file').click();
  await panel.getByTestId('import-file').setInputFiles({ name: 'sentiment.csv', mimeType: 'text/csv', buffer: Buffer.from(reviewsTsv()) });
  const draft = panel.getByTestId('import-draft');
  await expect(draft).toContainText('sentiment.csv · CSV, tab-separated');
  await expect(draft.getByLabel('Task name')).toHaveValue('sentiment-2');
  await expect(draft.getByLabel('Answer field')).toHaveValue('label');
  await draft.getByRole('button', { name: 'Import' }).click();
  await expect(panel.getByRole('list', { name: 'Imported datasets' })).toContainText('sentiment-2');
  // Train on the imported data alone, with the real labels.
  await page.getByTestId('task-sentiment').uncheck();
  await page.getByTestId('task-arithmetic').uncheck();
  await page.getByTestId('rename-labels').uncheck();
  await expect(page.getByTestId('context-preview')).toContainText(/ (good|bad)/, { timeout: 60_000 });
  await page.waitForTimeout(1000); // the setup is saved a moment after the last change

  // Reload: the dataset is listed and chosen, the form is as it was.
  await page.reload();
  await expect(panel.getByRole('list', { name: 'Imported datasets' })).toContainText('sentiment-2');
  await expect(panel.getByRole('list', { name: 'Imported datasets' })).toContainText('16 examples');
  await expect(panel.getByRole('checkbox', { name: 'sentiment-2' })).toBeChecked();
  await expect(field('Steps')).toHaveValue(software ? '8' : '100');
  await expect(field('Context length')).toHaveValue(software ? '64' : '256');
  await expect(page.getByTestId('task-sentiment')).not.toBeChecked();
  await expect(page.getByTestId('rename-labels')).not.toBeChecked();
  await expect(page.getByTestId('context-preview')).toContainText(/ (good|bad)/, { timeout: 60_000 });

  // The quick demo trains on it to the end.
  await page.getByTestId('run-name').fill('demo on my data');
  const started = Date.now();
  await page.getByTestId('create-and-start').click();
  const steps = software ? 8 : 100;
  await expect(page.getByTestId('run-status')).toHaveText(new RegExp(`^done · step ${steps}/${steps}`), { timeout: 720_000 });
  const seconds = (Date.now() - started) / 1000;
  testInfo.annotations.push({ type: 'quick demo', description: `${steps} steps in ${seconds.toFixed(0)} s (software adapter: ${software})` });
  console.log(`quick demo: ${steps} steps in ${seconds.toFixed(1)} s (software adapter: ${software})`);
  await expect(page.locator('.run-meta')).toContainText('sentiment-2 (imported)');
  await expect(page.getByTestId('task-breakdown').locator('tr[data-task="sentiment-2"]')).toBeVisible();
  await expect(page.getByTestId('task-breakdown').getByTestId('task-window')).toHaveText(/^\d+ \+ \d+ of \d+$/);
  // With a measured run, the estimate is based on it.
  await expect(page.getByTestId('duration-estimate')).toContainText('from run "demo on my data"');
  console.log(await page.getByTestId('duration-estimate').textContent());

  // After another reload the data is still there, and the run names it.
  await page.reload();
  await expect(panel.getByRole('list', { name: 'Imported datasets' })).toContainText('sentiment-2');
  await expect(page.getByTestId('experiments').getByTestId('run-data')).toHaveText('sentiment-2 (imported)');

  // "New run" from the list: another setup first, then the run's own settings and data back in the form.
  await page.getByTestId('quick-demo-apply').click();
  await field('Steps').fill('3');
  await page.getByTestId('task-nli').check();
  await panel.getByRole('checkbox', { name: 'sentiment-2' }).uncheck();
  await page.getByTestId('experiments').getByRole('button', { name: 'New run from demo on my data' }).click();
  await expect(field('Steps')).toHaveValue(String(steps));
  await expect(page.getByTestId('task-nli')).not.toBeChecked();
  await page.getByTestId('run-name').fill('again');
  await page.getByTestId('create-run').click();
  await expect(page.getByTestId('experiments')).toContainText('again');
  const [original, again] = await storedConfigs(page);
  expect([original.name, again.name]).toEqual(['demo on my data', 'again']);
  expect(again.config).toEqual(original.config);
});

/** A valid Llama GGUF of the embedded model's shape with no tokenizer.ggml.* metadata. */
function ggufWithoutTokenizer(): Uint8Array {
  const shapes = new Map(baseWeights(EMBEDDED_SPEC).map((w) => [w.name, w.shape]));
  return ggufFromHfModel({
    spec: EMBEDDED_SPEC,
    type: 'F32',
    name: 'no tokenizer',
    tensors: (name) => {
      const shape = shapes.get(name);
      return shape ? new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) : undefined;
    },
  });
}

let server: FileServer;

test.beforeAll(async () => {
  server = await startFileServer({ '/models/notok.gguf': { body: ggufWithoutTokenizer() } }, { lifetimeMs: 300_000 });
});

test.afterAll(async () => {
  await server.close();
});

test('a model without a tokenizer is flagged when added and cannot start a run, and says why', async ({ page }) => {
  await page.goto('/');
  const picker = page.getByTestId('model-picker');
  await picker.getByText('Add from a URL').click();
  await picker.getByTestId('model-url').fill(`${server.url}/models/notok.gguf`);
  await picker.getByTestId('url-download').click();
  await expect(picker.getByTestId('model-notice')).toHaveText('Added notok.gguf.', { timeout: 60_000 });
  // Flagged as soon as the add is reported, with the reason.
  await expect(picker.getByTestId('tokenizer-flag')).toContainText('notok.gguf has no usable tokenizer (', { timeout: 1_000 });

  await picker.getByTestId('cached-model').getByRole('radio', { name: 'Use notok.gguf' }).check();
  const errors = page.getByTestId('setup-errors');
  await expect(errors).toContainText('notok.gguf has no usable tokenizer', { timeout: 60_000 });
  await expect(errors).toContainText('choose another model');
  await expect(page.getByTestId('create-and-start')).toBeDisabled();
  await expect(page.getByTestId('create-run')).toBeDisabled();

  // Still flagged after a reload; the embedded model clears the block.
  await page.reload();
  await expect(picker.getByTestId('tokenizer-flag')).toContainText('notok.gguf', { timeout: 60_000 });
  await expect(page.getByTestId('create-run')).toBeDisabled();
  await picker.getByRole('radio', { name: /embedded/ }).check();
  await expect(page.getByTestId('create-run')).toBeEnabled();
});
