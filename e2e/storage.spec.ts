// A full disk while a checkpoint is written (Chromium's quota override through CDP): the run stops with a message
// that says so, the earlier checkpoint stays whole, and the run goes on from it once there is room again.
import { type Page, expect, test } from '@playwright/test';

const STEP_TIMEOUT = 300_000;

/** The run's checkpoint pointer, and whether the checkpoint it points at is stored. */
async function storedCheckpoint(page: Page): Promise<{ step: number; key: string; present: boolean; keys: string[] } | null> {
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
    const present = (await read(store.count(pointer.key))) === 1;
    db.close();
    return { step: pointer.step, key: pointer.key, present, keys };
  });
}

test('a full disk while saving a checkpoint keeps the earlier one, says so, and the run resumes from it', async ({ page, baseURL }) => {
  test.setTimeout(1_200_000);
  await page.goto('/');
  const cdp = await page.context().newCDPSession(page);
  const origin = new URL(baseURL!).origin;
  const field = (label: string) => page.getByLabel(label, { exact: true });
  await page.getByRole('radiogroup', { name: 'Mode' }).getByText('LoRA').click();
  await field('Context length').fill('48');
  await field('Batch size').fill('1');
  await field('Steps').fill('8');
  await field('Warmup').fill('0');
  await field('Checkpoint every').fill('2');
  await page.getByTestId('run-name').fill('full disk');
  await page.getByTestId('create-and-start').click();

  // A checkpoint lands; the run is paused between steps.
  await expect.poll(async () => (await storedCheckpoint(page))?.step ?? 0, { timeout: STEP_TIMEOUT, intervals: [250] }).toBeGreaterThanOrEqual(2);
  await page.getByTestId('run-pause').click();
  await expect(page.getByTestId('run-status')).toHaveText(/^paused/, { timeout: STEP_TIMEOUT });
  const before = (await storedCheckpoint(page))!;
  expect(before.present).toBe(true);
  expect(before.step).toBeLessThan(6);

  // The disk is full: a checkpoint cannot be written. (Chromium may let one more write through before it
  // counts the usage against the new quota, so the step that fails is read from the message.)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1024 });
  await page.getByTestId('run-resume').click();
  const message = /^The browser's storage is full: could not save the checkpoint of step (\d+) \(the checkpoint of step (\d+) is kept\)\. Free space \(delete cached models or runs\) and resume\.$/;
  await expect(page.getByTestId('run-error')).toHaveText(message, { timeout: STEP_TIMEOUT });
  const [, failing, kept] = message.exec((await page.getByTestId('run-error').textContent())!)!.map(Number);
  expect(kept).toBeGreaterThanOrEqual(before.step);
  expect(failing).toBe(kept + 2);
  await expect(page.getByTestId('run-status')).toHaveText(new RegExp(`^error · step ${failing}/8`));
  const after = (await storedCheckpoint(page))!;
  expect(after).toMatchObject({ step: kept, present: true });
  expect(after.keys).toHaveLength(2); // the run's pointer and the kept checkpoint: nothing of the failed one

  // Room again: the run goes on from the kept checkpoint (which loads: its checksum holds) to the end.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await expect(page.getByTestId('run-start')).toHaveText(`Continue from step ${kept}`);
  await page.getByTestId('run-start').click();
  await expect(page.getByTestId('run-status')).toHaveText(/^(running|done)/, { timeout: STEP_TIMEOUT });
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  await expect(page.getByTestId('run-status')).toHaveText(/^done · step 8\/8/, { timeout: 900_000 });
  const final = (await storedCheckpoint(page))!;
  expect(final.step).toBe(8);
  expect(final.present).toBe(true);
  expect(final.keys).toHaveLength(2); // the run's pointer and its one checkpoint
});
