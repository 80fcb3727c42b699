/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vite';
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
      plan: 'src/cli/plan.ts',
    },
    output: { entryFileNames: '[name].mjs', format: 'es' as const },
  },
};

export default defineConfig(({ mode }) => ({
  plugins: [react()],
  // Pre-bundled up front, so the first browser test run does not reload the page to optimise them.
  // Pre-bundled up front: a dependency found mid-run makes Vite reload the browser test page (two Reacts).
  optimizeDeps: { include: ['@noble/hashes/sha2.js', 'comlink', 'idb-keyval', 'uplot', 'react', 'react-dom/client', 'zustand'] },
  build: mode === 'cli' ? cliBuild : { target: 'es2022', sourcemap: true },
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
