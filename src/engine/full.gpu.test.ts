// Full-parameter gradients, checked two independent ways:
// - linear layers: with the LoRA merged into W (W' = W + s B A), the full gradient G = dL/dW' must reproduce
//   PyTorch's LoRA gradients: dB = s G A^T and dA = s B^T G;
// - norms, embedding and LM head: central differences of the float64 CPU reference loss.
import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../gpu/gpu.testing';
import { cpuReferenceStep, stepInputOfCase } from '../reference/cpu-step';
import { FullParameters } from './full';
import { Model } from './weights';
import { loraScaling, peftKey } from './peft';
import { loadReferenceCase } from '../reference/case';
import { LORA_TARGETS, linearShape } from './spec';
import { caseReader } from '../testdata/cases.testing';
import { Trainer } from './trainer';

function matmulRows(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA = false, transB = false): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += (transA ? a[t * m + i] : a[i * k + t]) * (transB ? b[j * k + t] : b[t * n + j]);
      out[i * n + j] = sum;
    }
  }
  return out;
}

const mergedName = (layer: number, target: string) =>
  `model.layers.${layer}.${['gate_proj', 'up_proj', 'down_proj'].includes(target) ? 'mlp' : 'self_attn'}.${target}.weight`;

describe('full-parameter training', () => {
  for (const name of ['llama-tiny', 'llama3-tiny']) {
    it(`${name}: gradients of every weight`, async () => {
      const gpu = await testGpu();
      const c = await loadReferenceCase(caseReader(`reference/${name}`));
      const s = loraScaling(c.lora.config);
      const A = (l: number, t: (typeof LORA_TARGETS)[number]) => c.lora.tensors.tensor(peftKey(l, t, 'A'));
      const B = (l: number, t: (typeof LORA_TARGETS)[number]) => c.lora.tensors.tensor(peftKey(l, t, 'B'));
      const merged = new Map<string, Float32Array>();
      for (let l = 0; l < c.spec.numLayers; l++) {
        for (const t of LORA_TARGETS) {
          const [out, inF] = linearShape(c.spec, t);
          const w = c.weights.tensor(mergedName(l, t)).slice();
          const ba = matmulRows(B(l, t), A(l, t), out, c.lora.config.rank, inF);
          for (let i = 0; i < w.length; i++) w[i] += s * ba[i];
          merged.set(mergedName(l, t), w);
        }
      }
      const model = Model.fromTensors(gpu, c.spec, (n) => ({ shape: c.weights.info(n).shape, data: merged.get(n) ?? c.weights.tensor(n) }));
      const full = new FullParameters(gpu, model);
      const trainer = new Trainer(model, full, {
        objective: 'manyicl', adamw: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, maxGradNorm: 0, recompute: false,
      });
      try {
        const result = await trainer.step([c.batch], { captureGradients: true });
        expect(Math.abs(result.loss - c.expected.json.loss_all_answers) / c.expected.json.loss_all_answers).toBeLessThan(1e-5);
        const grads = full.split(result.gradients!);

        for (let l = 0; l < c.spec.numLayers; l++) {
          for (const t of LORA_TARGETS) {
            const [out, inF] = linearShape(c.spec, t);
            const r = c.lora.config.rank;
            const G = grads.get(mergedName(l, t))!;
            const dB = matmulRows(G, A(l, t), out, inF, r, false, true).map((x) => s * x);
            const dA = matmulRows(B(l, t), G, r, out, inF, true).map((x) => s * x);
            expect(maxRelError(dB, c.expected.tensors.tensor(`grad.${peftKey(l, t, 'B')}`)), `${t} dB`).toBeLessThan(1e-3);
            expect(maxRelError(dA, c.expected.tensors.tensor(`grad.${peftKey(l, t, 'A')}`)), `${t} dA`).toBeLessThan(1e-3);
          }
        }

        // Central differences of the float64 CPU loss at a few entries of the other weights.
        const input = stepInputOfCase(c);
        const token = c.batch.inputIds[0][5];
        const probes: [string, number][] = [
          ['model.norm.weight', 3], ['model.layers.0.input_layernorm.weight', 7], ['model.layers.1.post_attention_layernorm.weight', 11],
          ['model.embed_tokens.weight', token * c.spec.hiddenSize + 2],
          [c.spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', c.batch.labels[0].find((x) => x >= 0)! * c.spec.hiddenSize + 1],
        ];
        for (const [weight, index] of probes) {
          const h = 1e-3;
          const lossAt = (delta: number) => {
            const perturbed = c.weights.tensor(weight).slice();
            perturbed[index] += delta;
            return cpuReferenceStep({ ...input, weights: (n) => (n === weight ? perturbed : input.weights(n)) }).lossAllAnswers;
          };
          const numeric = (lossAt(h) - lossAt(-h)) / (2 * h);
          const analytic = grads.get(weight)![index];
          expect(Math.abs(analytic - numeric), `${weight}[${index}]: ${analytic} vs ${numeric}`).toBeLessThan(1e-3 * Math.max(1e-2, Math.abs(numeric)));
        }

        // The update reaches the weights the kernels read.
        const before = c.weights.tensor('model.norm.weight');
        const after = await gpu.readF32(model.finalNorm);
        expect(maxRelError(after, before)).toBeGreaterThan(1e-5);
        expect(Array.from((await full.read()).get('model.norm.weight')!)).toEqual(Array.from(after));
      } finally {
        trainer.destroy();
        full.destroy();
        model.destroy();
      }
    });
  }
});
