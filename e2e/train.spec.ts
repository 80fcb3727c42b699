// The main job end to end in the built app: the embedded model and built-in tasks, ManyICL training in the
// worker, live per-target charts, and a reload in the middle that loses nothing and resumes from the checkpoint.
import { type Page, expect, test } from '@playwright/test';
import { fillRunSettings } from './run-setup';

const STEP_TIMEOUT = 240_000; // SwiftShader runs a step of the embedded model in seconds to tens of seconds

async function status(page: Page): Promise<string> {
  return (await page.getByTestId('run-status').textContent()) ?? '';
}

async function waitForStatus(page: Page, pattern: RegExp, timeout = STEP_TIMEOUT): Promise<string> {
  await expect.poll(() => status(page), { timeout, intervals: [250] }).toMatch(pattern);
  return status(page);
}

async function storedRun(page: Page): Promise<{ status: string; steps: number[]; losses: number[]; checkpointStep?: number }> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-workbench');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const runs = await new Promise<{ status: string; metrics: { step: number; loss: number }[]; checkpointStep?: number }[]>((resolve) => {
      const request = db.transaction('runs').objectStore('runs').getAll();
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    const run = runs[0];
    return { status: run.status, steps: run.metrics.map((m) => m.step), losses: run.metrics.map((m) => m.loss), checkpointStep: run.checkpointStep };
  });
}

test('trains the embedded model with ManyICL, survives a reload and resumes from its checkpoint', async ({ page }, testInfo) => {
  test.setTimeout(1_200_000);
  await page.goto('/');
  await expect(page.getByTestId('gpu-badge')).toHaveText(/^WebGPU · (?!checking)/); // the adapter is ready
  await expect(page.getByTestId('model-picker')).toContainText('manyicl-tiny');
  await expect(page.getByTestId('task-builder')).toBeVisible();

  // Built-in tasks, the ManyICL objective, small settings for a CPU-emulated GPU.
  await fillRunSettings(page, { contextLength: 64, steps: 10, warmup: 1, learningRate: 0.003, checkpointEvery: 2 });
  await expect(page.getByTestId('context-preview').locator('[data-target="true"]').first()).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('run-name').fill('e2e manyicl');
  await page.getByTestId('create-and-start').click();

  // The page keeps answering input while the worker trains.
  await waitForStatus(page, /^running · step [1-9]/);
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    delays.push(await page.evaluate(() => new Promise<number>((resolve) => {
      const t0 = performance.now();
      setTimeout(() => resolve(performance.now() - t0), 0);
    })));
    await page.getByTestId('run-name').fill(`typing while training ${i}`);
    await expect(page.getByTestId('run-name')).toHaveValue(`typing while training ${i}`, { timeout: 1_000 });
    await page.waitForTimeout(100);
  }
  expect(Math.max(...delays)).toBeLessThan(250);

  // Training until the loss falls.
  await waitForStatus(page, /^running · step [5-9]|^done/);
  const before = await storedRun(page);
  expect(before.losses.at(-1)!).toBeLessThan(before.losses[0]);
  for (const chart of ['chart-loss', 'chart-shots', 'heatmap', 'task-breakdown', 'token-loss', 'throughput']) {
    await expect(page.getByTestId(chart)).toBeVisible();
  }
  await expect(page.getByTestId('token-loss')).not.toBeEmpty();

  // Reload in the middle: the run, its charts and its checkpoint are still there.
  const checkpointBefore = before.checkpointStep ?? 0;
  expect(checkpointBefore).toBeGreaterThanOrEqual(2);
  await page.reload();
  await expect(page.getByTestId('experiments')).toContainText('e2e manyicl');
  const afterReload = await storedRun(page);
  expect(afterReload.steps.length).toBeGreaterThanOrEqual(before.steps.length);
  await expect(page.getByTestId('chart-loss')).toBeVisible();
  const reloaded = await waitForStatus(page, /^(paused|stopped|done)/, 30_000);

  if (!reloaded.startsWith('done')) {
    // Resume: training goes on from the checkpoint step, not from scratch.
    const checkpoint = afterReload.checkpointStep!;
    await page.getByTestId('run-resume').or(page.getByTestId('run-start')).first().click();
    await waitForStatus(page, new RegExp(`^running · step (${checkpoint + 1}|[${checkpoint + 2}-9]|10)|^done`));
    await waitForStatus(page, /^done · step 10\/10/, 900_000);
    const final = await storedRun(page);
    expect(final.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(final.checkpointStep).toBe(10);
  }

  const shot = await page.screenshot({ path: testInfo.outputPath('dashboard.png'), fullPage: true });
  await testInfo.attach('dashboard', { body: shot, contentType: 'image/png' });
});
