// Full-parameter training: every weight of the model trains. The optimizer works on one flat copy of all
// weights (so clipping and AdamW are one dispatch each); per-tensor gradients are gathered into it, and the
// updated weights are copied back into the tensors the kernels read. Meant for small models, like the
// embedded one, which starts from random weights.
import type { Gpu } from '../gpu/gpu';
import type { LayerWeights, Model, ModelGradients } from './weights';
import { singleBuffer } from './vocab-table';

interface Slot {
  name: string;
  weight: GPUBuffer;
  grad: GPUBuffer;
  offset: number; // bytes
  bytes: number;
}

export class FullParameters {
  readonly count: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  /** Per-tensor gradient buffers that the backward pass accumulates into. */
  readonly modelGrads: ModelGradients;
  step = 0;
  private readonly slots: Slot[] = [];
  private readonly owned: GPUBuffer[] = [];

  constructor(
    private readonly gpu: Gpu,
    model: Model,
  ) {
    let bytes = 0;
    const gradFor = (weight: GPUBuffer): GPUBuffer => {
      const name = model.names.get(weight)!;
      const grad = gpu.buffer(`grad.${name}`, weight.size);
      this.owned.push(grad);
      this.slots.push({ name, weight, grad, offset: bytes, bytes: weight.size });
      bytes += weight.size;
      return grad;
    };
    const embedding = gradFor(singleBuffer(model.embedding, 'full-parameter training'));
    const layers = model.layers.map((W) => {
      const out = {} as Record<keyof LayerWeights, GPUBuffer>;
      for (const key of Object.keys(W) as (keyof LayerWeights)[]) {
        const w = W[key];
        if ('kind' in w && w.kind !== 'f32') throw new Error('full-parameter training needs f32 weights; this model is quantized: train a LoRA');
        out[key] = gradFor('buffer' in w ? w.buffer : w);
      }
      return out;
    });
    const finalNorm = gradFor(model.finalNorm);
    const lmHead = model.lmHead === model.embedding ? embedding : gradFor(singleBuffer(model.lmHead, 'full-parameter training'));
    this.modelGrads = { embedding, layers, finalNorm, lmHead };
    this.count = bytes / 4;
    this.params = gpu.buffer('full.params', bytes);
    this.grads = gpu.buffer('full.grads', bytes);
    this.m = gpu.buffer('full.adam_m', bytes);
    this.v = gpu.buffer('full.adam_v', bytes);
    this.owned.push(this.params, this.grads, this.m, this.v);
    const encoder = gpu.device.createCommandEncoder();
    for (const s of this.slots) encoder.copyBufferToBuffer(s.weight, 0, this.params, s.offset, s.bytes);
    encoder.clearBuffer(this.m);
    encoder.clearBuffer(this.v);
    gpu.device.queue.submit([encoder.finish()]);
  }

  beginStep(encoder: GPUCommandEncoder): void {
    for (const s of this.slots) encoder.clearBuffer(s.grad);
  }

  gatherGradients(encoder: GPUCommandEncoder): void {
    for (const s of this.slots) encoder.copyBufferToBuffer(s.grad, 0, this.grads, s.offset, s.bytes);
  }

  afterUpdate(encoder: GPUCommandEncoder): void {
    for (const s of this.slots) encoder.copyBufferToBuffer(this.params, s.offset, s.weight, 0, s.bytes);
  }

  /** Flat values split by HF weight name. */
  split(flat: Float32Array): Map<string, Float32Array> {
    return new Map(this.slots.map((s) => [s.name, flat.slice(s.offset / 4, (s.offset + s.bytes) / 4)]));
  }

  /** The current weights by HF name (to save the model). */
  async read(): Promise<Map<string, Float32Array>> {
    return this.split(await this.gpu.readF32(this.params, this.count));
  }

  destroy(): void {
    this.gpu.destroy(...this.owned);
  }
}
