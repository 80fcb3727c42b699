import { expect, test } from '@playwright/test';

test('shows the WebGPU adapter: vendor, architecture, features and limits', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByTestId('app-title')).toHaveText('ManyICL Workbench');

  const panel = page.getByTestId('adapter-panel');
  await expect(panel).toBeVisible();
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

  const screenshot = await page.screenshot({ path: testInfo.outputPath('adapter-panel.png'), fullPage: true });
  await testInfo.attach('adapter-panel', { body: screenshot, contentType: 'image/png' });
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
