// The page's layout at the sizes it is used at: a laptop (1366x900), a narrow window or tablet (800 px), and a
// classroom projector (1024x768 in large type). Each test asserts the layout facts and keeps screenshots
// (test-results/, beside the other artifacts) to look at.
import { type Page, type TestInfo, expect, test } from '@playwright/test';

async function keepScreenshot(page: Page, testInfo: TestInfo, name: string, fullPage = false): Promise<void> {
  const body = await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

/** How far the page scrolls sideways: 0 when nothing sticks out of the window. */
function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** Waits until the app has started: the setup has read the model and packed a context. */
async function openApp(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('gpu-badge')).toHaveText(/^WebGPU · (?!checking)/);
  await expect(page.getByTestId('context-preview').locator('[data-target="true"]').first()).toBeVisible({ timeout: 60_000 });
}

const steps = (page: Page) => page.getByRole('navigation', { name: 'Setup steps' });

test.describe('at 1366x900', () => {
  test.use({ viewport: { width: 1366, height: 900 } });

  test('the first screen starts the path: model and tasks on it, Create one step away, no inner scrollbar', async ({ page }, testInfo) => {
    await openApp(page);
    await page.evaluate(() => window.scrollTo(0, 0));

    // Model, then tasks: both begin on the first screen; the adapter's diagnostics are folded into the badge.
    await expect(page.getByRole('heading', { name: 'Model', exact: true })).toBeInViewport();
    await expect(page.getByTestId('task-builder').getByText('Task mixture')).toBeInViewport();
    await expect(page.getByTestId('task-sentiment')).toBeInViewport();
    await expect(page.getByTestId('adapter-panel')).toBeHidden();
    await expect(page.getByTestId('experiments')).toBeInViewport();
    await keepScreenshot(page, testInfo, 'layout-1366x900');

    // The setup scrolls with the page, not inside a box of its own, and the two columns stand side by side.
    const setup = await page.locator('.setup-column').evaluate((el) => ({
      overflowY: getComputedStyle(el).overflowY,
      hidden: el.scrollHeight - el.clientHeight,
      right: el.getBoundingClientRect().right,
    }));
    expect(setup.overflowY).toBe('visible');
    expect(setup.hidden).toBeLessThanOrEqual(1);
    const dashboardLeft = await page.locator('#dashboard').evaluate((el) => el.getBoundingClientRect().left);
    expect(dashboardLeft).toBeGreaterThan(setup.right);
    expect(await sidewaysOverflow(page)).toBe(0);

    // The step nav stays on top and reaches each step: Run brings the Create buttons into view.
    await steps(page).getByRole('link', { name: 'Run', exact: true }).click();
    await expect(page.getByTestId('create-and-start')).toBeInViewport();
    await expect(page.getByTestId('create-run')).toBeInViewport();
    await expect(steps(page)).toBeInViewport();
    await expect(steps(page).getByRole('link', { name: 'Run', exact: true })).toHaveAttribute('aria-current', 'step');
    await steps(page).getByRole('link', { name: 'Tasks', exact: true }).click();
    await expect(page.getByTestId('task-builder').getByText('Task mixture')).toBeInViewport();
    await keepScreenshot(page, testInfo, 'layout-1366x900-full', true);
  });
});

test.describe('at 800 px', () => {
  test.use({ viewport: { width: 800, height: 900 } });

  test('one column, nothing sideways, the dashboard one link away, and the runs table keeps its Delete column', async ({ page }, testInfo) => {
    await openApp(page);
    for (const name of ['a baseline run', 'a run whose name is long enough to wrap in a narrow table']) {
      await page.getByTestId('run-name').fill(name);
      await page.getByTestId('create-run').click();
      await expect(page.getByTestId('experiments')).toContainText(name);
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await expect(page.getByRole('heading', { name: 'Model', exact: true })).toBeInViewport();
    await keepScreenshot(page, testInfo, 'layout-800');

    // One column: the runs and dashboard come after the setup, each as wide as the page allows.
    const setupBottom = await page.locator('.setup-column').evaluate((el) => el.getBoundingClientRect().bottom);
    const dashboardTop = await page.locator('#dashboard').evaluate((el) => el.getBoundingClientRect().top);
    expect(dashboardTop).toBeGreaterThan(setupBottom);
    expect(await sidewaysOverflow(page)).toBe(0);

    // The step nav (or the skip link) reaches the dashboard at once.
    await steps(page).getByRole('link', { name: 'Runs and dashboard', exact: true }).click();
    await expect(page.getByTestId('experiments')).toBeInViewport();
    await expect(page.getByTestId('run-status')).toBeInViewport();

    // Every Delete is on screen, inside its table's box, and the table hides nothing behind a sideways scroll.
    const table = page.getByTestId('experiments').locator('.table-wrap');
    expect(await table.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    const box = (await table.boundingBox())!;
    const deletes = page.getByTestId('experiments').getByRole('button', { name: /^Delete / });
    await expect(deletes).toHaveCount(2);
    for (const button of await deletes.all()) {
      await expect(button).toBeInViewport();
      const b = (await button.boundingBox())!;
      expect(b.x).toBeGreaterThanOrEqual(box.x);
      expect(b.x + b.width).toBeLessThanOrEqual(box.x + box.width);
    }
    expect(await sidewaysOverflow(page)).toBe(0);
    await keepScreenshot(page, testInfo, 'layout-800-dashboard');

    // The skip link, for the keyboard: the first Tab stop, and it lands on the runs.
    await page.reload();
    await expect(page.getByTestId('app-title')).toBeVisible();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to the dashboard' });
    await expect(skip).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('experiments')).toBeInViewport();
    await keepScreenshot(page, testInfo, 'layout-800-full', true);
  });
});

test.describe('on a 1024x768 projector', () => {
  test.use({ viewport: { width: 1024, height: 768 } });

  test('large type scales the whole page, still without sideways scrolling, and is remembered', async ({ page }, testInfo) => {
    await openApp(page);
    const rootSize = () => page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
    const normal = await rootSize();
    const titleSize = () => page.getByTestId('app-title').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    const normalTitle = await titleSize();

    const toggle = page.getByRole('button', { name: 'Large type' });
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-pressed', 'true');
    expect(await rootSize()).toBeCloseTo(normal * 1.2, 1);
    expect(await titleSize()).toBeCloseTo(normalTitle * 1.2, 1);
    expect(await sidewaysOverflow(page)).toBe(0);
    await expect(page.getByRole('heading', { name: 'Model', exact: true })).toBeInViewport();
    await keepScreenshot(page, testInfo, 'layout-1024x768-large');

    await page.reload();
    await expect(page.getByRole('button', { name: 'Large type' })).toHaveAttribute('aria-pressed', 'true');
    expect(await rootSize()).toBeCloseTo(normal * 1.2, 1);
  });
});
