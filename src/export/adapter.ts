// A LoRA adapter in host memory: what every export format is written from. Comes from a run's checkpoint (the
// flat parameter buffer), from a LoraAdapter on the GPU, or from an imported PEFT folder.
import type { LoraAdapter } from '../engine/lora';
import { type LoraConfig, loraScaling, loraTensorShapes, peftKey } from '../engine/peft';
import type { LoraTarget, ModelSpec } from '../engine/spec';

export interface HostAdapter {
  spec: ModelSpec;
  config: LoraConfig;
  /** A [rank, in] and B [out, rank], row-major, by PEFT key (peftKey). */
  tensors: Map<string, Float32Array>;
}

/** Splits the flat parameter buffer a LoRA run keeps (LoraAdapter's layout, a checkpoint's `params`). */
export function hostAdapterOfFlat(spec: ModelSpec, config: LoraConfig, flat: Float32Array): HostAdapter {
  const tensors = new Map<string, Float32Array>();
  let offset = 0;
  for (const t of loraTensorShapes(spec, config)) {
    const n = t.shape[0] * t.shape[1];
    tensors.set(t.key, flat.slice(offset, offset + n));
    offset += n;
  }
  if (offset !== flat.length) {
    throw new Error(`LoRA parameters: ${flat.length} values, but rank ${config.rank} on ${config.targets.join(', ')} takes ${offset}`);
  }
  return { spec, config, tensors };
}

export async function hostAdapterOf(lora: LoraAdapter): Promise<HostAdapter> {
  return { spec: lora.spec, config: lora.config, tensors: await lora.read('params') };
}

/** The pair adapting one linear layer, or undefined when it is not a target. */
export function adapterPair(adapter: HostAdapter, layer: number, target: LoraTarget): { a: Float32Array; b: Float32Array } | undefined {
  if (!adapter.config.targets.includes(target)) return undefined;
  const a = adapter.tensors.get(peftKey(layer, target, 'A'));
  const b = adapter.tensors.get(peftKey(layer, target, 'B'));
  if (!a || !b) throw new Error(`LoRA adapter lacks the ${target} pair of layer ${layer}`);
  return { a, b };
}

/** W [out, in] + s B [out, r] A [r, in], in float64 sums, as a fresh f32 array (W untouched). */
export function mergedWeight(w: Float32Array, out: number, inFeatures: number, pair: { a: Float32Array; b: Float32Array }, rank: number, scaling: number): Float32Array {
  const merged = new Float32Array(w);
  const { a, b } = pair;
  const row = new Float64Array(inFeatures);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < rank; k++) {
      const bk = b[o * rank + k];
      if (bk === 0) continue;
      const aRow = k * inFeatures;
      for (let i = 0; i < inFeatures; i++) row[i] += bk * a[aRow + i];
    }
    for (let i = 0; i < inFeatures; i++) merged[o * inFeatures + i] += scaling * row[i];
  }
  return merged;
}

export const adapterScaling = (adapter: HostAdapter): number => loraScaling(adapter.config);

/** The flat parameter buffer of a LoRA run (LoraAdapter's layout): what a checkpoint keeps. */
export function flatOfHostAdapter(adapter: HostAdapter): Float32Array {
  const shapes = loraTensorShapes(adapter.spec, adapter.config);
  const flat = new Float32Array(shapes.reduce((n, t) => n + t.shape[0] * t.shape[1], 0));
  let offset = 0;
  for (const t of shapes) {
    const data = adapter.tensors.get(t.key);
    if (!data || data.length !== t.shape[0] * t.shape[1]) throw new Error(`LoRA adapter lacks ${t.key} [${t.shape}]`);
    flat.set(data, offset);
    offset += data.length;
  }
  return flat;
}
