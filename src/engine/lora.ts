// A LoRA adapter on the GPU: every A and B tensor in one flat f32 buffer, with its gradients and AdamW moments
// in buffers of the same layout, so that clipping and the optimizer are one dispatch each.
import type { Gpu } from '../gpu/gpu';
import { mulberry32 } from '../util/random';
import type { LoraSlot } from './linear';
import { type LoraConfig, loraScaling, loraTensorShapes } from './peft';
import type { LoraTarget, ModelSpec } from './spec';

export interface LoraTensorEntry {
  key: string;
  layer: number;
  target: LoraTarget;
  which: 'A' | 'B';
  shape: [number, number];
  offset: number;
}

/**
 * The flat parameters (LoraAdapter's layout) that initialize(seed) writes: PEFT's default init, A ~
 * kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)) drawn from mulberry32(seed), B = 0.
 */
export function initialLoraParams(spec: ModelSpec, config: LoraConfig, seed: number): Float32Array {
  const shapes = loraTensorShapes(spec, config);
  const values = new Float32Array(shapes.reduce((n, t) => n + t.shape[0] * t.shape[1], 0));
  const next = mulberry32(seed);
  let offset = 0;
  for (const t of shapes) {
    const n = t.shape[0] * t.shape[1];
    if (t.which === 'A') {
      const bound = 1 / Math.sqrt(t.shape[1]);
      for (let i = 0; i < n; i++) values[offset + i] = (2 * next() - 1) * bound;
    }
    offset += n;
  }
  return values;
}

export class LoraAdapter {
  readonly scaling: number;
  readonly entries: LoraTensorEntry[];
  readonly count: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  /** AdamW steps taken. */
  step = 0;
  private readonly slots = new Map<string, LoraSlot>();

  constructor(
    private readonly gpu: Gpu,
    readonly spec: ModelSpec,
    readonly config: LoraConfig,
  ) {
    this.scaling = loraScaling(config);
    let offset = 0;
    this.entries = loraTensorShapes(spec, config).map((t) => {
      const entry = { ...t, offset };
      offset += t.shape[0] * t.shape[1];
      return entry;
    });
    this.count = offset;
    const bytes = offset * 4;
    this.params = gpu.buffer('lora.params', bytes);
    this.grads = gpu.buffer('lora.grads', bytes);
    this.m = gpu.buffer('lora.adam_m', bytes);
    this.v = gpu.buffer('lora.adam_v', bytes);
    const encoder = gpu.device.createCommandEncoder();
    for (const buffer of [this.params, this.grads, this.m, this.v]) encoder.clearBuffer(buffer);
    gpu.device.queue.submit([encoder.finish()]);
    for (const layer of new Set(this.entries.map((e) => e.layer))) {
      for (const target of config.targets) {
        const a = this.entry(layer, target, 'A');
        const b = this.entry(layer, target, 'B');
        this.slots.set(`${layer}.${target}`, {
          rank: config.rank, scaling: this.scaling, aOffset: a.offset, bOffset: b.offset,
          params: this.params, grads: this.grads,
        });
      }
    }
  }

  /** The pair adapting one linear layer, or null when that layer is not a target. */
  slot(layer: number, target: LoraTarget): LoraSlot | null {
    return this.slots.get(`${layer}.${target}`) ?? null;
  }

  entry(layer: number, target: LoraTarget, which: 'A' | 'B'): LoraTensorEntry {
    const found = this.entries.find((e) => e.layer === layer && e.target === target && e.which === which);
    if (!found) throw new Error(`no LoRA tensor for layer ${layer} ${target} ${which}`);
    return found;
  }

  /** PEFT's default initialisation: A ~ kaiming-uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
  initialize(seed: number): void {
    this.gpu.write(this.params, initialLoraParams(this.spec, this.config, seed));
    this.resetOptimizer();
  }

  /** Loads tensors by PEFT key; every tensor of the adapter must be present with its shape. */
  load(tensors: (key: string) => { shape: number[]; data: Float32Array } | undefined): void {
    const values = new Float32Array(this.count);
    for (const e of this.entries) {
      const t = tensors(e.key);
      if (!t) throw new Error(`LoRA adapter file lacks ${e.key}`);
      if (t.shape.length !== 2 || t.shape[0] !== e.shape[0] || t.shape[1] !== e.shape[1]) {
        throw new Error(`LoRA tensor ${e.key} has shape [${t.shape}], expected [${e.shape}]`);
      }
      values.set(t.data, e.offset);
    }
    this.gpu.write(this.params, values);
    this.resetOptimizer();
  }

  beginStep(encoder: GPUCommandEncoder): void {
    encoder.clearBuffer(this.grads);
  }

  /** LoRA gradients are accumulated in place: nothing to gather or write back. */
  gatherGradients(): void {}

  afterUpdate(): void {}

  resetOptimizer(): void {
    const encoder = this.gpu.device.createCommandEncoder();
    for (const buffer of [this.grads, this.m, this.v]) encoder.clearBuffer(buffer);
    this.gpu.device.queue.submit([encoder.finish()]);
    this.step = 0;
  }

  /** The tensors of one flat buffer, by PEFT key. */
  async read(which: 'params' | 'grads' | 'm' | 'v'): Promise<Map<string, Float32Array>> {
    return this.split(await this.gpu.readF32(this[which], this.count));
  }

  split(flat: Float32Array): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const e of this.entries) out.set(e.key, flat.slice(e.offset, e.offset + e.shape[0] * e.shape[1]));
    return out;
  }

  destroy(): void {
    this.gpu.destroy(this.params, this.grads, this.m, this.v);
  }
}
