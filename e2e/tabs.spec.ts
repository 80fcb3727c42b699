// Two tabs on one run: the one that started it trains (it holds the run's Web Lock); the other shows the run as
// training in another tab, offers no Start, and follows its steps.
import { type Page, expect, test } from '@playwright/test';
import { createAndStart, fillRunSettings } from './run-setup';

const stepOf = async (page: Page) => Number(/step (\d+)\//.exec((await page.getByTestId('run-status').textContent()) ?? '')?.[1] ?? -1);

test('a run trains in one tab only; the other follows its progress', async ({ context }) => {
  test.setTimeout(900_000);
  const first = await context.newPage();
  await first.goto('/');
  await fillRunSettings(first, { lora: true, contextLength: 48, steps: 6, checkpointEvery: 3 });
  await createAndStart(first, 'two tabs');
  await expect(first.getByTestId('run-status')).toHaveText(/^running · step [1-5]\//, { timeout: 300_000 });

  const second = await context.newPage();
  await second.goto('/');
  await expect(second.getByTestId('experiments')).toContainText('two tabs');
  await expect(second.getByTestId('run-elsewhere')).toHaveText('Training in another tab');
  await expect(second.getByTestId('run-start')).toHaveCount(0);
  await expect(second.getByTestId('run-resume')).toHaveCount(0);
  await expect(second.getByTestId('run-status')).toHaveText(/^running/);
  const seen = await stepOf(second);
  await expect.poll(() => stepOf(second), { timeout: 300_000, intervals: [250] }).toBeGreaterThan(seen);

  // The end: the second tab takes the run back as the first saved it.
  await expect(first.getByTestId('run-status')).toHaveText(/^done · step 6\/6/, { timeout: 600_000 });
  await expect(second.getByTestId('run-status')).toHaveText(/^done · step 6\/6/);
  await expect(second.getByTestId('run-elsewhere')).toHaveCount(0);
});
