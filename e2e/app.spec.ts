import { expect, test } from '@playwright/test';

test('shows the WebGPU adapter from the header badge: vendor, architecture, features and limits', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByTestId('app-title')).toHaveText('ManyICL Workbench');

  // The details are folded into the header badge: a popover that the keyboard opens and Escape closes.
  const badge = page.getByTestId('gpu-badge');
  await expect(badge).toHaveText(/^WebGPU · (?!checking)/);
  const panel = page.getByTestId('adapter-panel');
  await expect(panel).toBeHidden();
  await badge.focus();
  await page.keyboard.press('Enter');
  await expect(panel).toBeVisible();
  await expect(badge).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('adapter-vendor')).not.toBeEmpty();
  await expect(page.getByTestId('adapter-architecture')).not.toBeEmpty();

  const features = page.getByTestId('adapter-feature');
  expect(await features.count()).toBeGreaterThan(0);
  await expect(features.first()).not.toBeEmpty();
  await expect(page.getByTestId('limit-maxStorageBufferBindingSize')).toContainText(/\d/);
  await expect(page.getByTestId('limit-maxComputeWorkgroupSizeX')).toContainText(/\d/);

  const vendor = (await page.getByTestId('adapter-vendor').textContent()) ?? '';
  const architecture = (await page.getByTestId('adapter-architecture').textContent()) ?? '';
  if (architecture === 'swiftshader') {
    // The CI adapter: SwiftShader, Chromium's CPU implementation.
    expect(vendor).toBe('google');
    await expect(page.getByTestId('adapter-software')).toBeVisible();
  }
  await expect(page.getByTestId('webgpu-missing')).toHaveCount(0);

  const screenshot = await page.screenshot({ path: testInfo.outputPath('adapter-panel.png') });
  await testInfo.attach('adapter-panel', { body: screenshot, contentType: 'image/png' });

  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await expect(badge).toHaveAttribute('aria-expanded', 'false');
  await expect(badge).toBeFocused();
  await badge.click();
  await expect(panel).toBeVisible();
  await page.getByRole('button', { name: 'Close the adapter details' }).click();
  await expect(panel).toBeHidden();
});

test('explains how to enable WebGPU when the browser has none', async ({ page }, testInfo) => {
  await page.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto('/');

  const missing = page.getByTestId('webgpu-missing');
  await expect(missing).toBeVisible();
  await expect(page.getByTestId('webgpu-missing-reason')).toContainText('navigator.gpu');
  const help = page.getByTestId('webgpu-help');
  await expect(help).toContainText('chrome://flags/#enable-unsafe-webgpu');
  await expect(help).toContainText('chrome://flags/#enable-vulkan');
  await expect(help).toContainText('113');
  await expect(help).toContainText('https://');
  await expect(page.getByTestId('adapter-panel')).toHaveCount(0);
  // Without WebGPU nothing trains: the help is on the page itself, and the header badge points at it.
  await expect(missing).toBeInViewport();
  await expect(page.getByTestId('gpu-badge')).toHaveAttribute('href', '#gpu');

  const screenshot = await page.screenshot({ path: testInfo.outputPath('webgpu-missing.png'), fullPage: true });
  await testInfo.attach('webgpu-missing', { body: screenshot, contentType: 'image/png' });
});

test('says so when WebGPU is present but no adapter is available', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', {
      configurable: true,
      get: () => ({ requestAdapter: async () => null }),
    });
  });
  await page.goto('/');
  await expect(page.getByTestId('webgpu-missing')).toBeVisible();
  await expect(page.getByTestId('webgpu-missing-reason')).toContainText('no GPU adapter');
});
