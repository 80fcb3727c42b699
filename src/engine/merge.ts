// A LoRA adapter merged into the model's weights: W' = W + s B A, in f32 (quantized weights are decoded first, so
// merging costs their f32 size). Generation then runs without the LoRA branch.
import type { LoraAdapter } from './lora';
import { f32RowsOf } from './ops/dequantize';
import { matmul } from './ops/matmul';
import { LORA_TARGETS } from './spec';
import { LINEAR_OF, type Model } from './weights';

/** Merges `lora` into `model` in place: every adapted linear layer becomes the f32 W + s B A. */
export async function mergeLora(model: Model, lora: LoraAdapter): Promise<void> {
  const { gpu } = model;
  const encoder = gpu.device.createCommandEncoder({ label: 'merge_lora' });
  for (let l = 0; l < model.spec.numLayers; l++) {
    for (const target of LORA_TARGETS) {
      const slot = lora.slot(l, target);
      if (!slot) continue;
      const w = model.layers[l][LINEAR_OF[target]];
      const name = model.names.get(w.buffer) ?? `layer${l}.${target}`;
      const { outFeatures: out, inFeatures: inF } = w;
      const buffer = w.kind === 'f32' ? w.buffer : f32RowsOf(gpu, name, { type: w.type, encoded: w.buffer, cols: inF }, 0, out);
      // W [out, in] += s * B [out, r] . A [r, in]
      matmul(gpu, encoder, {
        a: slot.params, aOffset: slot.bOffset, b: slot.params, bOffset: slot.aOffset, c: buffer,
        M: out, N: inF, K: slot.rank, alpha: slot.scaling, beta: 1, label: `merge.${name}`,
      });
      model.replaceLinear(l, target, { kind: 'f32', buffer, outFeatures: out, inFeatures: inF });
    }
  }
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
}
