// Finds a Chromium for the browser tests and gives the flags that expose WebGPU in it.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright';

/** MANYICL_GPU=real runs the GPU tests on the machine's GPU; otherwise on SwiftShader (CPU). */
export const realGpu = process.env.MANYICL_GPU === 'real';

export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH is set to ${fromEnv}, but no file is there.`);
    return fromEnv;
  }
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  let bundled = '';
  try {
    bundled = chromium.executablePath();
  } catch {
    // Playwright throws when it has no browser of its own.
  }
  if (bundled && existsSync(bundled)) return bundled;
  throw new Error(
    [
      'No Chromium found for the browser tests. Any one of these fixes it:',
      '  - Debian/Ubuntu: sudo apt-get install -y chromium   (gives /usr/bin/chromium)',
      '  - set CHROMIUM_PATH to a Chrome or Chromium binary (version 121 or newer, for WebGPU)',
      "  - npx playwright install chromium   (downloads Playwright's own build)",
    ].join('\n'),
  );
}

export function chromiumArgs(): string[] {
  const args = [
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ];
  if (realGpu) args.push('--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist');
  else args.push('--use-webgpu-adapter=swiftshader');
  return args;
}
