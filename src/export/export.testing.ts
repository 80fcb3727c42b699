// Random base models and adapters for the export tests: every LoRA tensor, B included, drawn non-zero (PEFT's
// init has B = 0, which would make any merge or adapter file indistinguishable from the base).
import type { LoraConfig } from '../engine/peft';
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

export function randomExportCase(spec: ModelSpec, lora: Omit<LoraConfig, 'targets'>, seed: number): RandomExportCase {
  const c = randomCase({ spec, batch: 1, seqLen: 8, answers: 1, pad: 0, rank: lora.rank, alpha: lora.alpha, seed });
  const weights = new Map([...c.weights].map(([name, t]) => [name, t.data]));
  const config: LoraConfig = { ...c.input.lora.config, ...(lora.useRslora ? { useRslora: true } : {}) };
  const adapter: HostAdapter = { spec, config, tensors: new Map([...c.lora].map(([key, t]) => [key, t.data])) };
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
