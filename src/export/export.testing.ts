// Random base models and adapters for the export tests: every LoRA tensor, B included, drawn non-zero (PEFT's
// init has B = 0, which would make any merge or adapter file indistinguishable from the base).
import { LoraAdapter } from '../engine/lora';
import type { LoraConfig } from '../engine/peft';
import type { Gpu } from '../gpu/gpu';
import type { ModelSpec } from '../engine/spec';
import { randomCase } from '../reference/make-case';
import type { HostAdapter } from './adapter';
import type { BaseSource } from './base';

export interface RandomExportCase {
  base: BaseSource;
  adapter: HostAdapter;
  /** The base weights by HF name (what base.tensor returns copies of). */
  weights: Map<string, Float32Array>;
}

/**
 * Base weights as randomCase draws them (matrices N(0,1) / sqrt(fan_in)); LoRA tensors 0.2 N(0,1) times
 * `loraScale` (default 1), all seven targets.
 */
export function randomExportCase(spec: ModelSpec, lora: Omit<LoraConfig, 'targets'> & { loraScale?: number }, seed: number): RandomExportCase {
  const c = randomCase({ spec, batch: 1, seqLen: 8, answers: 1, pad: 0, rank: lora.rank, alpha: lora.alpha, seed });
  const weights = new Map([...c.weights].map(([name, t]) => [name, t.data]));
  const config: LoraConfig = { ...c.input.lora.config, ...(lora.useRslora ? { useRslora: true } : {}) };
  const scale = lora.loraScale ?? 1;
  const adapter: HostAdapter = { spec, config, tensors: new Map([...c.lora].map(([key, t]) => [key, t.data.map((v) => v * scale)])) };
  const base: BaseSource = {
    spec,
    repo: 'test/tiny',
    async tensor(name) {
      const t = weights.get(name);
      if (!t) throw new Error(`random base: no tensor ${name}`);
      return t.slice();
    },
  };
  return { base, adapter, weights };
}

export { modelLogits as engineLogits } from '../reference/tiny-decoder.testing';

/** The adapter on the GPU. */
export function gpuAdapter(gpu: Gpu, adapter: HostAdapter): LoraAdapter {
  const lora = new LoraAdapter(gpu, adapter.spec, adapter.config);
  lora.load((key) => {
    const data = adapter.tensors.get(key);
    const entry = lora.entries.find((e) => e.key === key);
    return data && entry ? { shape: entry.shape, data } : undefined;
  });
  return lora;
}

/** max |ours - theirs| / max |theirs|. */
export function relativeError(ours: Float32Array, theirs: Float32Array): number {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < theirs.length; i++) {
    const d = Math.abs(ours[i] - theirs[i]);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(theirs[i]));
  }
  return maxAbs / scale;
}
