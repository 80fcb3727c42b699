// The training-step benchmark in a browser tab: bench.html?shape=tiny&seq=64&... ; `npm run bench -- --browser`
// opens it in headless Chromium and prints window.benchResult.
import { runBench } from './train-step';
import { Gpu } from '../gpu/gpu';
import { errorMessage } from '../util/errors';

declare global {
  interface Window {
    benchResult?: unknown;
    benchError?: string;
  }
}

const log = document.getElementById('log')!;
const q = new URLSearchParams(location.search);
const number = (name: string, fallback: number) => Number(q.get(name) ?? fallback);

try {
  const gpu = await Gpu.create();
  const result = await runBench(
    gpu,
    {
      shape: q.get('shape') ?? 'tiny', seq: number('seq', 128), batch: number('batch', 1), rank: number('rank', 16),
      steps: number('steps', 3), recompute: q.get('recompute') === '1', activations: q.get('activations') === 'f16' ? 'f16' : 'f32', allocateOnly: q.get('allocateOnly') === '1',
    },
    (line) => {
      console.log(line);
      log.textContent += `\n${line}`;
    },
  );
  log.textContent = JSON.stringify(result, null, 2);
  window.benchResult = result;
} catch (error) {
  window.benchError = errorMessage(error);
  log.textContent = window.benchError;
}
