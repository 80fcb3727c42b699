// The model picker end to end in the built app: a GGUF (made by the project's writer) downloaded by URL from
// a local server, with the progress bar; then the model in the cached list with its size, still there after
// a reload, picked as the base model, and deleted.
import { expect, test } from '@playwright/test';
import { formatBytes } from '../src/util/format';
import { fixtureGguf } from '../src/model/sources/library.testing';
import { type FileServer, startFileServer } from './file-server';

const GGUF = fixtureGguf(51, 128 * 1024); // 512 KiB of weights
let server: FileServer;

test.beforeAll(async () => {
  // Sent in 16 KiB pieces 100 ms apart: the download takes a few seconds, long enough to watch.
  server = await startFileServer({ '/models/e2e-tiny.gguf': { body: GGUF, pieceBytes: 16 * 1024, delayMs: 100 } }, { lifetimeMs: 300_000 });
});

test.afterAll(async () => {
  await server.close();
});

test('downloads a GGUF by URL with progress, keeps it across a reload, uses it and deletes it', async ({ page }, testInfo) => {
  await page.goto('/');
  const picker = page.getByTestId('model-picker');
  await expect(picker.getByTestId('cached-models')).toContainText('No models cached yet');
  await expect(picker.getByTestId('storage-estimate')).toContainText(/used of/);

  await picker.getByText('Add from a URL').click();
  await picker.getByTestId('model-url').fill(`${server.url}/models/e2e-tiny.gguf`);
  await picker.getByTestId('url-download').click();

  const transfer = picker.getByTestId('model-transfer');
  await expect(transfer).toBeVisible();
  await expect(transfer).toContainText('e2e-tiny.gguf');
  await expect(transfer.locator('progress')).toHaveAttribute('max', String(GGUF.length));
  await expect(transfer.getByTestId('transfer-facts')).toContainText(new RegExp(`of ${formatBytes(GGUF.length).replace('.', '\\.')} · [\\d.]+ KiB/s · \\d+ s left`));
  await expect(transfer.getByTestId('cancel-transfer')).toBeVisible();
  const screenshot = await picker.screenshot({ path: testInfo.outputPath('model-download.png') });
  await testInfo.attach('model-download', { body: screenshot, contentType: 'image/png' });

  await expect(transfer).toHaveCount(0, { timeout: 60_000 });
  await expect(picker.getByTestId('model-notice')).toHaveText('Added e2e-tiny.gguf.');
  const row = picker.getByTestId('cached-model');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('e2e-tiny.gguf');
  await expect(row).toContainText('GGUF');
  await expect(row.getByTestId('cached-model-size')).toHaveText(formatBytes(GGUF.length));
  await expect(row).toContainText('URL: 127.0.0.1');
  const listed = await picker.screenshot({ path: testInfo.outputPath('model-cached.png') });
  await testInfo.attach('model-cached', { body: listed, contentType: 'image/png' });

  await page.reload();
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('cached-model-size')).toHaveText(formatBytes(GGUF.length));
  const requests = server.requests.filter((r) => r.method === 'GET').length;
  expect(requests).toBe(1); // the reload read the cache, not the server

  await row.getByRole('radio', { name: 'Use e2e-tiny.gguf' }).check();
  await expect(row.getByRole('radio')).toBeChecked();
  await expect(row).toHaveClass(/checked/);

  await row.getByRole('button', { name: 'Delete e2e-tiny.gguf' }).click();
  await expect(row).toContainText(`Delete it and free ${formatBytes(GGUF.length)}?`);
  await row.getByTestId('confirm-delete').click();
  await expect(picker.getByTestId('cached-model')).toHaveCount(0);
  await expect(picker.getByTestId('cached-models')).toContainText('No models cached yet');
  await expect(picker.getByRole('radio', { name: /embedded/ })).toBeChecked();

  await page.reload();
  await expect(picker.getByTestId('cached-models')).toContainText('No models cached yet');
});
