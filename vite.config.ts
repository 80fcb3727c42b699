/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { chromiumArgs, findChromium, realGpu } from './e2e/chromium.ts';

function chromiumOrNothing(): string | undefined {
  try {
    return findChromium();
  } catch {
    return undefined; // e2e/require-chromium.ts explains, when a browser project runs
  }
}

// `vite build --mode cli` bundles the Node entry points (src/cli) into dist-cli/, WGSL included.
const cliBuild = {
  ssr: true,
  copyPublicDir: false,
  outDir: 'dist-cli',
  target: 'node20',
  rollupOptions: {
    input: {
      reference: 'src/cli/reference.ts',
      bench: 'src/cli/bench.ts',
      'make-cases': 'src/cli/make-cases.ts',
      'make-embedded-model': 'src/cli/make-embedded-model.ts',
      'compare-objectives': 'src/cli/compare-objectives.ts',
      'make-gguf-cases': 'src/cli/make-gguf-cases.ts',
      'bench-load': 'src/cli/bench-load.ts',
      generate: 'src/cli/generate.ts',
      score: 'src/cli/score.ts',
      study: 'src/cli/study.ts',
      'bench-kernels': 'src/cli/bench-kernels.ts',
      export: 'src/cli/export.ts',
      'export-recipe': 'src/cli/export-recipe.ts',
      train: 'src/cli/train.ts',
      'bench-device': 'src/cli/bench-device.ts',
      plan: 'src/cli/plan.ts',
      inspect: 'src/cli/inspect.ts',
    },
    output: { entryFileNames: '[name].mjs', format: 'es' as const },
  },
};

// `vite build --mode device` bundles the device benchmark into one self-contained file, dist-device/bench-device.mjs:
// every dependency and WGSL inlined except `webgpu` (dawn.node), which travels beside it (scripts/prepare-device-bench.mjs).
const deviceBuild = {
  ...cliBuild,
  outDir: 'dist-device',
  rollupOptions: {
    input: { 'bench-device': 'src/cli/bench-device.ts' },
    output: { entryFileNames: '[name].mjs', format: 'es' as const, codeSplitting: false },
  },
};

// The service worker (vite-plugin-pwa, Workbox generateSW): offline after one visit. It precaches the app shell
// (index.html, every JS and CSS chunk, the workers' chunks included) and the embedded model in public/models/,
// and nothing else. onnxruntime-web's .wasm (28 MB, only the playground's ONNX option loads it) is cached on
// first use instead. Cross-origin requests (model downloads, with their byte ranges) match no route, so the
// worker leaves them to the network and to the app's own model cache. Prompt mode: a new version waits until the
// user reloads (src/main.tsx, src/store/app-update.ts). `vite` (dev) registers no worker.
const serviceWorker = () =>
  VitePWA({
    strategies: 'generateSW',
    registerType: 'prompt',
    injectRegister: false, // src/main.tsx registers it through virtual:pwa-register
    manifest: false,
    workbox: {
      globPatterns: ['**/*.{js,css,html}', 'models/manyicl-tiny/*.{json,safetensors}'],
      globIgnores: ['**/*.map'],
      maximumFileSizeToCacheInBytes: 8 * 1024 * 1024, // the embedded model.safetensors is 2.9 MB
      navigateFallback: 'index.html',
      navigateFallbackDenylist: [/^\/models\//],
      cleanupOutdatedCaches: true,
      // The first visit's page is controlled at once (offline after one visit, no reload needed); an update
      // still waits for the user, since skipWaiting stays off.
      clientsClaim: true,
      skipWaiting: false,
      runtimeCaching: [
        {
          urlPattern: ({ sameOrigin, url }) => sameOrigin && url.pathname.endsWith('.wasm'),
          handler: 'CacheFirst',
          options: { cacheName: 'manyicl-wasm', expiration: { maxEntries: 4 } },
        },
      ],
    },
  });

export default defineConfig(({ mode }) => ({
  // The service worker belongs to the app's build (and preview) only: not to the CLI bundles nor to vitest.
  plugins: mode === 'cli' || mode === 'device' || mode === 'test' ? [react()] : [react(), serviceWorker()],
  // Pre-bundled up front, so the first browser test run does not reload the page to optimise them.
  // Pre-bundled up front: a dependency found mid-run makes Vite reload the browser test page (two Reacts).
  optimizeDeps: { include: ['@noble/hashes/sha2.js', 'comlink', 'idb-keyval', 'uplot', 'react', 'react-dom/client', 'zustand'] },
  build: mode === 'cli' ? cliBuild : mode === 'device' ? deviceBuild : { target: 'es2022', sourcemap: true },
  ssr: mode === 'device' ? { noExternal: true, external: ['webgpu'] } : undefined,
  worker: { format: 'es' },
  test: {
    provide: { realGpu },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
          exclude: ['src/**/*.gpu.test.ts', 'src/**/*.browser.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          include: ['src/**/*.gpu.test.ts', 'src/**/*.browser.test.ts'],
          // *.node.gpu.test.ts need Node (native addons such as llama.cpp): gpu-node runs them.
          exclude: ['src/**/*.node.gpu.test.ts'],
          globalSetup: ['e2e/require-chromium.ts', 'e2e/file-server.ts'],
          testTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: chromiumOrNothing(), args: chromiumArgs() } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'gpu-node',
          include: ['src/**/*.gpu.test.ts'],
          setupFiles: ['src/gpu/node-setup.ts'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 120_000,
        },
      },
    ],
  },
}));
