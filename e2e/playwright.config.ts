// Playwright tests of the built app (dist/), served by `vite preview`. Build first: `npm run test:e2e` does.
import { defineConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { chromiumArgs, findChromium } from './chromium.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const port = 4174;

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  outputDir: '../test-results',
  timeout: 90_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: Boolean(process.env.CI),
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    baseURL: `http://localhost:${port}`,
    viewport: { width: 1100, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: { executablePath: findChromium(), args: chromiumArgs() },
  },
  projects: [{ name: 'chromium' }],
  webServer: {
    command: `npx vite preview --port ${port} --strictPort`,
    cwd: repoRoot,
    url: `http://localhost:${port}`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
