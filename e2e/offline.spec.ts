// Offline after one visit: the service worker (vite-plugin-pwa, Workbox) precaches the app shell and the
// embedded model. The page loads once online, caches a model by URL, then goes offline and reloads: the app
// still loads from the precache, trains the embedded model two steps, and lists the cached model (which the
// app's own model cache keeps, not the service worker). And the update flow: a new version waits, the page
// says so and does not reload by itself, and its reload button waits while a run trains.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Page, expect, test } from '@playwright/test';
import { fixtureGguf } from '../src/model/sources/library.testing';
import { type FileServer, startFileServer } from './file-server';
import { createAndStart, fillRunSettings } from './run-setup';

const GGUF = fixtureGguf(52, 16 * 1024); // 64 KiB of weights
let server: FileServer;

test.beforeAll(async () => {
  server = await startFileServer({ '/models/offline-tiny.gguf': { body: GGUF } }, { lifetimeMs: 300_000 });
});

test.afterAll(async () => {
  await server.close();
});

const SW_PATH = fileURLToPath(new URL('../dist/sw.js', import.meta.url));
const ASSETS = fileURLToPath(new URL('../dist/assets/', import.meta.url));

/** Bytes of a same-origin file as the page fetches it. */
const fetchedBytes = (page: Page, path: string) => page.evaluate(async (url) => (await (await fetch(url)).arrayBuffer()).byteLength, path);

/** Resolves once the service worker is installed (everything precached) and controls the page. */
async function controlled(page: Page): Promise<void> {
  const controller = () => page.evaluate(() => navigator.serviceWorker.controller?.state ?? 'none');
  await expect.poll(controller, { timeout: 60_000 }).toBe('activated');
}

async function trainTwoSteps(page: Page, name: string): Promise<void> {
  await fillRunSettings(page, { lora: true, contextLength: 48, steps: 2 });
  await createAndStart(page, name);
}

test('loads, trains the embedded model and lists a cached model offline after one visit', async ({ page, context }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await expect(page.getByTestId('app-title')).toBeVisible();
  // clientsClaim: the first visit's page is controlled without a reload.
  await controlled(page);
  expect(await page.evaluate(async () => new URL((await navigator.serviceWorker.ready).scope).pathname)).toBe('/');

  const picker = page.getByTestId('model-picker');
  await picker.getByText('Add from a URL').click();
  await picker.getByTestId('model-url').fill(`${server.url}/models/offline-tiny.gguf`);
  await picker.getByTestId('url-download').click();
  await expect(picker.getByTestId('model-notice')).toHaveText('Added offline-tiny.gguf.', { timeout: 60_000 });
  const row = picker.getByTestId('cached-model');
  await expect(row).toContainText('offline-tiny.gguf');
  const served = server.requests.length;
  // onnxruntime-web's .wasm (the playground's ONNX option) is not precached but cached on its first use.
  const wasm = `/assets/${(await readdir(ASSETS)).find((name) => /^ort-wasm-simd-threaded\.jsep-.*\.wasm$/.test(name))}`;
  const wasmBytes = await fetchedBytes(page, wasm);
  expect(wasmBytes).toBeGreaterThan(1e6);

  await context.setOffline(true);
  expect(await page.evaluate(() => navigator.onLine)).toBe(false);
  await page.reload();
  await expect(page.getByTestId('app-title')).toBeVisible();
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('offline-tiny.gguf');
  await expect(row).toContainText('GGUF');
  await expect(picker.getByRole('radio', { name: /embedded/ })).toBeChecked();
  expect(await fetchedBytes(page, wasm)).toBe(wasmBytes);

  await trainTwoSteps(page, 'offline');
  await expect(page.getByTestId('run-status')).toHaveText(/^done · step 2\/2/, { timeout: 240_000 });
  expect(server.requests.length).toBe(served); // nothing reached the network
});

test('a new version waits for the user, and not while a run trains', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await controlled(page);
  await page.evaluate(() => ((window as unknown as { firstLoad: boolean }).firstLoad = true));
  const original = await readFile(SW_PATH, 'utf8');
  try {
    await trainTwoSteps(page, 'update');
    await expect(page.getByTestId('run-status')).toHaveText(/^(loading|running)/);
    // A new build's worker (other bytes) is found while the run trains: it installs and waits.
    await writeFile(SW_PATH, `${original}\n// the next version\n`);
    await page.evaluate(async () => void (await (await navigator.serviceWorker.ready).update()));
    const notice = page.getByTestId('update-notice');
    await expect(notice).toContainText('A new version is ready — reload once training is done.');
    await expect(notice.getByTestId('update-reload')).toBeDisabled();
    expect(await page.evaluate(async () => (await navigator.serviceWorker.ready).waiting?.state)).toBe('installed');

    await expect(page.getByTestId('run-status')).toHaveText(/^done · step 2\/2/, { timeout: 240_000 });
    expect(await page.evaluate(() => (window as unknown as { firstLoad?: boolean }).firstLoad)).toBe(true); // never reloaded by itself
    await expect(notice).toHaveText(/A new version is ready — reload\./);
    await notice.getByTestId('update-reload').click();
    // The reload destroys the page's context mid-evaluate: that reads as "not reloaded yet", and the poll goes on.
    await expect.poll(() => page.evaluate(() => (window as unknown as { firstLoad?: boolean }).firstLoad ?? false).catch(() => true)).toBe(false);
    await expect(page.getByTestId('app-title')).toBeVisible();
    await expect(page.getByTestId('update-notice')).toHaveCount(0);
    expect(await page.evaluate(async () => (await navigator.serviceWorker.ready).waiting)).toBeNull();
    await controlled(page);
  } finally {
    await writeFile(SW_PATH, original);
  }
});
