// The GPU device lost in the middle of a run (here destroyed from the test, as a driver reset or a tab in the
// background too long would lose it): the training worker opens a new device, reloads the model, resumes from the
// last checkpoint, says so, and the run ends exactly where an uninterrupted run with the same settings ends.
// No hook in the app: the test reaches the worker's device by wrapping GPUDevice.prototype.createCommandEncoder in
// the worker (Playwright evaluates in workers), which the next step calls.
import { type Page, expect, test } from '@playwright/test';
import { createAndStart, fillRunSettings } from './run-setup';

const STEP_TIMEOUT = 300_000;

/** The stored run of that name: its status, and the loss of every step. */
async function storedRun(page: Page, name: string): Promise<{ status: string; steps: number[]; losses: number[]; checkpointStep?: number } | null> {
  return page.evaluate(async (runName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-workbench');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const runs = await new Promise<{ name: string; status: string; metrics: { step: number; loss: number }[]; checkpointStep?: number }[]>((resolve) => {
      const request = db.transaction('runs').objectStore('runs').getAll();
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    const run = runs.find((r) => r.name === runName);
    return run ? { status: run.status, steps: run.metrics.map((m) => m.step), losses: run.metrics.map((m) => m.loss), checkpointStep: run.checkpointStep } : null;
  }, name);
}

async function startRun(page: Page, name: string): Promise<void> {
  await createAndStart(page, name);
  await expect(page.getByTestId('run-status')).toHaveText(/^(loading|running)/, { timeout: 60_000 });
}

test('a GPU device lost mid-run is replaced; the run resumes from its checkpoint and ends as an uninterrupted one', async ({ page }) => {
  test.setTimeout(1_500_000);
  await page.goto('/');
  await fillRunSettings(page, { lora: true, contextLength: 48, steps: 6, checkpointEvery: 2 });

  await startRun(page, 'uninterrupted');
  await expect(page.getByTestId('run-status')).toHaveText(/^done · step 6\/6/, { timeout: 6 * STEP_TIMEOUT });
  const straight = (await storedRun(page, 'uninterrupted'))!;
  expect(straight.steps).toEqual([1, 2, 3, 4, 5, 6]);

  // The same settings again; the worker (and its device) is the one that trained the first run.
  const workers = page.workers();
  expect(workers.length).toBeGreaterThan(0);
  for (const worker of workers) {
    await worker.evaluate(() => {
      const scope = self as unknown as { trainingDevices?: Set<GPUDevice> };
      if (typeof GPUDevice === 'undefined' || scope.trainingDevices) return;
      const devices = (scope.trainingDevices = new Set<GPUDevice>());
      const original = GPUDevice.prototype.createCommandEncoder;
      GPUDevice.prototype.createCommandEncoder = function (this: GPUDevice, descriptor?: GPUCommandEncoderDescriptor) {
        devices.add(this);
        return original.call(this, descriptor);
      };
    });
  }
  await startRun(page, 'device lost');
  await expect(page.getByTestId('run-status')).toHaveText(/^running · step [2-5]\/6/, { timeout: 2 * STEP_TIMEOUT });
  await expect.poll(async () => (await storedRun(page, 'device lost'))?.checkpointStep ?? 0, { timeout: STEP_TIMEOUT, intervals: [250] }).toBeGreaterThanOrEqual(2);
  const checkpoint = (await storedRun(page, 'device lost'))!.checkpointStep!;
  expect(checkpoint).toBeLessThan(6);
  let destroyed = 0;
  for (const worker of workers) {
    destroyed += await worker.evaluate(() => {
      const devices = (self as unknown as { trainingDevices?: Set<GPUDevice> }).trainingDevices ?? new Set<GPUDevice>();
      for (const device of devices) device.destroy();
      return devices.size;
    });
  }
  expect(destroyed).toBe(1);

  // The run says what happened and goes on from its checkpoint (the one it had, or a later one saved as the device went).
  const notice = page.getByText(/^GPU device lost, resumed from step [2-6]/);
  await expect(notice.or(page.getByTestId('run-error'))).toBeVisible({ timeout: STEP_TIMEOUT });
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  await expect(notice).toBeVisible();
  await expect(page.getByTestId('run-status')).toHaveText(/^done · step 6\/6/, { timeout: 6 * STEP_TIMEOUT });
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  const recovered = (await storedRun(page, 'device lost'))!;
  expect(recovered.status).toBe('done');
  expect(recovered.steps).toEqual([1, 2, 3, 4, 5, 6]);
  expect(recovered.losses).toEqual(straight.losses); // bit for bit: the same float64 values
});
