import { type LoraConfig, loraTensorShapes } from '../engine/peft';
import type { ModelSpec } from '../engine/spec';
import { mulberry32 } from '../util/random';
import type { HostAdapter } from './adapter';

/** An adapter with every value drawn uniformly from [-1, 1) (B non-zero, unlike PEFT's initialisation). */
export function randomHostAdapter(spec: ModelSpec, config: LoraConfig, seed = 1): HostAdapter {
  const next = mulberry32(seed);
  const tensors = new Map<string, Float32Array>();
  for (const t of loraTensorShapes(spec, config)) tensors.set(t.key, Float32Array.from({ length: t.shape[0] * t.shape[1] }, () => next() * 2 - 1));
  return { spec, config, tensors };
}
