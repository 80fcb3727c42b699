// The study in the built app: one click on the embedded model with tiny settings runs every method to its
// table; a reload in the middle resumes without redoing finished units; table, curves and exports appear; the
// playground continues a prompt.
import { type Page, expect, test } from '@playwright/test';
import { fillRunSettings } from './run-setup';

interface StoredUnit {
  key: string;
  finishedAt: number;
}

async function storedUnits(page: Page): Promise<{ status: string; units: StoredUnit[] } | null> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('manyicl-studies');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const study = await new Promise<{ status: string; units: StoredUnit[] } | undefined>((resolve) => {
      const request = db.transaction('studies').objectStore('studies').get('current');
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    return study ? { status: study.status, units: study.units.map((u) => ({ key: u.key, finishedAt: u.finishedAt })) } : null;
  });
}

test('runs the study to its table, resumes after a reload without redoing units, and exports it', async ({ page }, testInfo) => {
  test.setTimeout(1_500_000);
  await page.goto('/');
  await expect(page.getByTestId('model-picker')).toContainText('manyicl-tiny');
  await page.getByTestId('task-sentiment').uncheck();
  await fillRunSettings(page, { contextLength: 48, steps: 1 });

  const study = page.getByTestId('study');
  await study.getByTestId('study-shots').fill('0');
  await study.getByTestId('study-examples').fill('1');
  await study.getByTestId('study-answer-tokens').fill('2');
  await study.getByTestId('study-run').click();

  // Reload once the first units are stored.
  await expect.poll(async () => (await storedUnits(page))?.units.length ?? 0, { timeout: 600_000, intervals: [500] }).toBeGreaterThanOrEqual(2);
  const before = (await storedUnits(page))!;
  await page.reload();
  await expect(page.getByTestId('study-table')).toBeVisible();
  await expect.poll(async () => (await storedUnits(page))?.status, { timeout: 900_000, intervals: [1000] }).toBe('done');
  const after = (await storedUnits(page))!;
  expect(after.units.map((u) => u.key)).toEqual(['base', 'zero-shot', 'few-shot', 'manyicl', 'dedicated:arithmetic']);
  expect(after.units.slice(0, before.units.length)).toEqual(before.units);

  await expect(page.getByTestId('study-status')).toContainText('Done: 5 units.');
  const table = page.getByTestId('study-table');
  for (const method of ['Base (ICL only)', 'Zero-shot FT', 'Few-shot FT', 'ManyICL', 'Dedicated']) await expect(table).toContainText(method);
  await expect(table).toContainText('k=0');
  await expect(page.getByTestId('study-curve-arithmetic')).toBeVisible();
  await expect(page.getByTestId('study-forgetting')).toContainText('nli');

  for (const [button, extension] of [['study-export-csv', '.csv'], ['study-export-json', '.json'], ['study-export-png', '.png']] as const) {
    const download = page.waitForEvent('download');
    await page.getByTestId(button).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(new RegExp(`^study-[a-z0-9]+\\${extension}$`));
    const path = testInfo.outputPath(`study${extension}`);
    await file.saveAs(path);
    if (extension === '.csv') {
      const { readFileSync } = await import('node:fs');
      expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('task,method,shots,score,exact_match');
    }
  }
  const shot = await page.getByTestId('study').screenshot({ path: testInfo.outputPath('study.png') });
  await testInfo.attach('study', { body: shot, contentType: 'image/png' });

  // The playground continues a prompt with the base model, in the same worker.
  const playground = page.getByTestId('playground');
  await playground.getByTestId('playground-prompt').fill('q: 2+2\na:');
  await playground.getByTestId('playground-tokens').fill('4');
  await playground.getByTestId('playground-generate').click();
  await expect(playground.getByTestId('playground-base')).toContainText(/Base model · [1-4] tokens · [\d.]+ tokens\/s/, { timeout: 120_000 });
});
