// A full disk (Chromium's quota override through CDP): a checkpoint that cannot be written stops the run with a
// message that says so, the earlier checkpoint stays whole and the run goes on from it once there is room; a model
// download that fills the disk midway says so too.
//
// Chromium's IndexedDB does not ask the quota manager before every write: after an answer it allows writes up to
// the space then left, decaying over 30 s (BucketContext::kBucketSpaceCacheTimeLimit). With the browser's real
// quota that allowance is gigabytes, so a checkpoint written within 30 s of a lowered override still went through
// (the first version of this test failed so on a fast machine). So the origin's quota is overridden before the
// page writes anything, to the usage plus 64 MiB (every answer then allows at most that much), and when the disk
// is to fill, it is lowered to the usage plus a margin smaller than a checkpoint and a write larger than any
// allowance left is tried first: refused, it makes IndexedDB ask again, and shows that the override holds.
import { type CDPSession, type Page, expect, test } from '@playwright/test';
import { fixtureGguf } from '../src/model/sources/library.testing';
import { type FileServer, startFileServer } from './file-server';
import { createAndStart, fillRunSettings } from './run-setup';

const STEP_TIMEOUT = 300_000;
const MiB = 1024 * 1024;
const ROOM = 64 * MiB;

/** The run's checkpoint pointer, whether the checkpoint it points at is stored, its bytes, and every key. */
async function storedCheckpoint(page: Page): Promise<{ step: number; key: string; present: boolean; bytes: number; keys: string[] } | null> {
  return page.evaluate(async () => {
    // Opening a database that is not there would create it empty, under the app's feet.
    if (!(await indexedDB.databases()).some((d) => d.name === 'manyicl-checkpoints')) return null;
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-checkpoints');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    if (!db.objectStoreNames.contains('checkpoints')) return null;
    const store = db.transaction('checkpoints').objectStore('checkpoints');
    const read = <T>(request: IDBRequest<T>) => new Promise<T>((resolve) => (request.onsuccess = () => resolve(request.result)));
    const keys = (await read(store.getAllKeys())).map(String);
    const runKey = keys.find((k) => !k.includes('@'));
    if (!runKey) return null;
    const pointer = (await read(store.get(runKey))) as { key: string; step: number };
    const stored = (await read(store.get(pointer.key))) as { params: Float32Array; m: Float32Array; v: Float32Array } | undefined;
    db.close();
    const bytes = stored ? stored.params.byteLength + stored.m.byteLength + stored.v.byteLength : 0;
    return { step: pointer.step, key: pointer.key, present: stored !== undefined, bytes, keys };
  });
}

async function usage(cdp: CDPSession, origin: string): Promise<number> {
  return (await cdp.send('Storage.getUsageAndQuota', { origin })).usage;
}

/**
 * Leaves `margin` bytes free for the origin, and makes IndexedDB see it at once: a write larger than what an
 * earlier answer still allows (at most ROOM) must be refused.
 */
async function fillDisk(page: Page, cdp: CDPSession, origin: string, margin: number): Promise<void> {
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: (await usage(cdp, origin)) + margin });
  const refused = await page.evaluate(async (bytes) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('e2e-disk-probe');
      request.onupgradeneeded = () => request.result.createObjectStore('probe');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const tx = db.transaction('probe', 'readwrite');
    tx.objectStore('probe').put(new Uint8Array(bytes), 'probe');
    const outcome = await new Promise<string>((resolve) => {
      tx.oncomplete = () => resolve('written');
      tx.onabort = () => resolve(tx.error?.name ?? 'aborted');
    });
    db.close();
    return outcome;
  }, ROOM + MiB);
  expect(refused).toBe('QuotaExceededError');
}

test('a full disk while saving a checkpoint keeps the earlier one, says so, and the run resumes from it', async ({ page, baseURL }) => {
  test.setTimeout(1_500_000);
  const origin = new URL(baseURL!).origin;
  const cdp = await page.context().newCDPSession(page);
  // Before the page writes anything: every answer of the quota manager allows at most ROOM.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: ROOM });
  await page.goto('/');
  await fillRunSettings(page, { lora: true, contextLength: 48, steps: 6, checkpointEvery: 2 });
  await createAndStart(page, 'full disk');

  // The checkpoint of step 2 lands; the run is paused before step 3 (or 4) ends.
  await expect.poll(async () => (await storedCheckpoint(page))?.step ?? 0, { timeout: STEP_TIMEOUT, intervals: [250] }).toBe(2);
  await page.getByTestId('run-pause').click();
  await expect(page.getByTestId('run-status')).toHaveText(/^paused · step [23]\//, { timeout: STEP_TIMEOUT });
  const before = (await storedCheckpoint(page))!;
  expect(before).toMatchObject({ step: 2, present: true });
  expect(before.bytes).toBeGreaterThan(64 * 1024);

  // The disk is full: room for the run's record, not for the checkpoint of step 4.
  await fillDisk(page, cdp, origin, Math.floor(before.bytes / 3));
  await page.getByTestId('run-resume').click();
  await expect(page.getByTestId('run-error')).toBeVisible({ timeout: 2 * STEP_TIMEOUT });
  await expect(page.getByTestId('run-error')).toHaveText(
    "The browser's storage is full: could not save the checkpoint of step 4 (the checkpoint of step 2 is kept). Free space (delete cached models or runs) and resume.",
  );
  await expect(page.getByTestId('run-status')).toHaveText(/^error · step 4\/6/);
  const after = (await storedCheckpoint(page))!;
  expect(after).toMatchObject({ step: 2, key: before.key, present: true });
  expect(after.keys).toHaveLength(2); // the run's pointer and the kept checkpoint: nothing of the failed one

  // Room again: the run goes on from the kept checkpoint (which loads: its checksum holds) to the end.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await expect(page.getByTestId('run-start')).toHaveText('Continue from step 2');
  await page.getByTestId('run-start').click();
  await expect(page.getByTestId('run-status')).toHaveText(/^done · step 6\/6/, { timeout: 5 * STEP_TIMEOUT });
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  const final = (await storedCheckpoint(page))!;
  expect(final).toMatchObject({ step: 6, present: true });
  expect(final.keys).toHaveLength(2); // the run's pointer and its one checkpoint
});

test.describe('a download that fills the disk', () => {
  const GGUF = fixtureGguf(52, 256 * 1024); // 1 MiB of weights
  let server: FileServer;

  test.beforeAll(async () => {
    // Sent in 16 KiB pieces 50 ms apart: the disk fills while it streams.
    server = await startFileServer({ '/models/e2e-full.gguf': { body: GGUF, pieceBytes: 16 * 1024, delayMs: 50 } }, { lifetimeMs: 300_000 });
  });

  test.afterAll(async () => {
    await server.close();
  });

  test('stops with a message that the storage is full, and lists no model', async ({ page, baseURL }) => {
    const origin = new URL(baseURL!).origin;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: ROOM });
    await page.goto('/');
    const picker = page.getByTestId('model-picker');
    await expect(picker.getByTestId('cached-models')).toContainText('No models cached yet');
    await picker.getByText('Add from a URL').click();
    await picker.getByTestId('model-url').fill(`${server.url}/models/e2e-full.gguf`);
    await picker.getByTestId('url-download').click();
    // The up-front check passed (there was room then); the disk fills once the first bytes are in.
    const transfer = picker.getByTestId('model-transfer');
    await expect(transfer.locator('progress')).toHaveAttribute('value', /^[1-9]\d*$/, { timeout: 30_000 });
    await fillDisk(page, cdp, origin, 64 * 1024);
    await expect(picker.getByTestId('model-error')).toBeVisible({ timeout: 60_000 });
    await expect(picker.getByTestId('model-error')).toHaveText(
      /^Could not add e2e-full\.gguf: The browser's storage is full: e2e-full\.gguf could not be saved \([\d.]+ MiB of 1\.\d MiB were saved when writing e2e-full\.gguf failed\)\. Free space \(delete cached models or runs\) and add it again\./,
    );
    await expect(transfer).toHaveCount(0);
    await expect(picker.getByTestId('cached-model')).toHaveCount(0);
  });
});
