// A real checkpoint end to end in the built app: a safetensors model folder (the embedded model's files, served
// by a local server as a model host would) added by URL into the model cache, then a LoRA run on it with its
// linear weights quantized to Q8_0 on the GPU while they stream from the cache.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Page, expect, test } from '@playwright/test';
import { type FileServer, startFileServer } from './file-server';
import { createAndStart, fillRunSettings } from './run-setup';

const STEP_TIMEOUT = 300_000;
const FOLDER = join(import.meta.dirname, '..', 'public', 'models', 'manyicl-tiny');
let server: FileServer;

test.beforeAll(async () => {
  const routes = Object.fromEntries(
    ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((name) => [
      `/host/manyicl-tiny/${name}`,
      { body: new Uint8Array(readFileSync(join(FOLDER, name))) },
    ]),
  );
  server = await startFileServer(routes, { lifetimeMs: 900_000 });
});

test.afterAll(async () => {
  await server.close();
});

async function status(page: Page): Promise<string> {
  return (await page.getByTestId('run-status').textContent()) ?? '';
}

test('adds a safetensors model by URL, quantizes it to Q8_0 on load and trains a LoRA on it', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto('/');
  const picker = page.getByTestId('model-picker');
  await picker.getByText('Add from a URL').click();
  await picker.getByTestId('model-url').fill(`${server.url}/host/manyicl-tiny/model.safetensors`);
  await picker.getByTestId('url-download').click();
  const row = picker.getByTestId('cached-model');
  await expect(row).toHaveCount(1, { timeout: 60_000 });
  await expect(row).toContainText('safetensors');

  await row.getByLabel('Quantize on load').selectOption('Q8_0');
  await row.getByRole('radio').check();
  await expect(row.getByRole('radio')).toBeChecked();

  await fillRunSettings(page, { contextLength: 64, steps: 3, warmup: 1, checkpointEvery: 3 });
  await createAndStart(page, 'e2e cached q8');

  await expect.poll(() => status(page), { timeout: STEP_TIMEOUT, intervals: [500] }).toMatch(/step [1-9]|done|error/);
  expect(await status(page)).not.toMatch(/error/);
  await expect.poll(() => status(page), { timeout: STEP_TIMEOUT * 2, intervals: [500] }).toMatch(/^done/);
  await expect(page.locator('.run-meta')).toContainText('Q8_0 on load');
  await expect(page.getByTestId('chart-loss')).toBeVisible();
});
