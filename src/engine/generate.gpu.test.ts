// Greedy decoding with the KV cache against the argmax of the full training forward, re-run on the growing
// sequences: every reference, generated and GGUF case (quantized weights, GQA/MQA, sliding windows passed).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { caseModel, caseTensors, loadReferenceCase } from '../reference/case';
import { GENERATED_CASES, GGUF_CASES, REFERENCE_CASES, caseReader } from '../testdata/cases.testing';
import { Generator, argmax } from './generate';
import { mergeLora } from './merge';
import { LoraAdapter } from './lora';
import { Trainer } from './trainer';

const CASES = [
  ...REFERENCE_CASES.map((name) => `reference/${name}`),
  ...GENERATED_CASES.map((name) => `generated/${name}`),
  ...GGUF_CASES.map((name) => `gguf/${name}`),
];
const NEW_TOKENS = 6;

/** The next token of each sequence by the training forward: argmax of the logits at its last position. */
async function fullForwardNext(trainer: Trainer, sequences: number[][], vocab: number): Promise<number[]> {
  const T = Math.max(...sequences.map((s) => s.length));
  const batch = {
    inputIds: sequences.map((s) => [...s, ...new Array<number>(T - s.length).fill(0)]),
    attentionMask: sequences.map((s) => s.map(() => 1).concat(new Array<number>(T - s.length).fill(0))),
    labels: sequences.map(() => new Array<number>(T).fill(-100)),
    answerSpans: sequences.map(() => []),
  };
  const logits = await trainer.logits(batch);
  return sequences.map((s, b) => argmax(logits, (b * T + s.length - 1) * vocab, (b * T + s.length) * vocab));
}

describe('generation with a KV cache', () => {
  for (const folder of CASES) {
    it(`${folder}: greedy tokens equal the full forward's argmax, prompts of different lengths in one batch`, async () => {
      const gpu = await testGpu();
      const c = await loadReferenceCase(caseReader(folder));
      const model = caseModel(gpu, c);
      const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
      lora.load(caseTensors(c).lora);
      const trainer = new Trainer(model, lora, { objective: 'manyicl', adamw: { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, maxGradNorm: 0, recompute: false });
      try {
        const rows = c.batch.inputIds.map((ids, b) => ids.slice(0, c.batch.attentionMask[b].reduce((a, m) => a + m, 0)));
        const prompts = [...rows.map((ids, b) => ids.slice(0, Math.min(ids.length - 1, 12 + 3 * b))), rows[0].slice(0, 3)];
        const window = c.spec.slidingWindow;
        if (window !== null) expect(Math.max(...prompts.map((p) => p.length)) + NEW_TOKENS).toBeGreaterThan(window);
        const { tokens, steps } = await new Generator(model, lora).generate(prompts, { maxNewTokens: NEW_TOKENS });
        expect(steps).toBe(NEW_TOKENS - 1);
        expect(tokens.map((t) => t.length)).toEqual(prompts.map(() => NEW_TOKENS));
        for (let i = 0; i < NEW_TOKENS; i++) {
          const next = await fullForwardNext(trainer, prompts.map((p, b) => [...p, ...tokens[b].slice(0, i)]), c.spec.vocabSize);
          expect(tokens.map((t) => t[i]), `token ${i}`).toEqual(next);
        }
      } finally {
        trainer.destroy();
        lora.destroy();
        model.destroy();
      }
    });
  }

  it('without an adapter equals an adapter at its PEFT init (B = 0); stops at stop tokens and stop strings; frees its buffers', async () => {
    const gpu = await testGpu();
    const c = await loadReferenceCase(caseReader('reference/llama-tiny'));
    const model = caseModel(gpu, c);
    const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
    lora.initialize(3);
    try {
      const prompts = [c.batch.inputIds[0].slice(0, 9), c.batch.inputIds[1].slice(0, 5)];
      const allocated = gpu.allocatedBytes;
      const base = await new Generator(model, null).generate(prompts, { maxNewTokens: 5 });
      const initial = await new Generator(model, lora).generate(prompts, { maxNewTokens: 5 });
      expect(initial.tokens).toEqual(base.tokens);

      const stopAt = base.tokens[0][1];
      const stopped = await new Generator(model, null).generate(prompts, { maxNewTokens: 5, stopTokens: [stopAt] });
      expect(stopped.tokens[0]).toEqual(base.tokens[0].slice(0, base.tokens[0].indexOf(stopAt) + 1));
      const decode = (ids: number[]) => ids.map((id) => `<${id}>`).join('');
      const byString = await new Generator(model, null).generate(prompts, { maxNewTokens: 5, stopStrings: [`<${base.tokens[1][2]}>`], decode });
      expect(byString.tokens[1]).toEqual(base.tokens[1].slice(0, base.tokens[1].indexOf(base.tokens[1][2]) + 1));
      expect(gpu.allocatedBytes, 'every buffer of a generation is freed').toBe(allocated);
    } finally {
      lora.destroy();
      model.destroy();
    }
  });
});

describe('a LoRA merged into the weights', () => {
  for (const folder of ['reference/mistral-tiny', 'gguf/llama-tiny-Q8_0']) {
    it(`${folder}: generates what the LoRA branch generates, and its logits agree`, async () => {
      const gpu = await testGpu();
      const c = await loadReferenceCase(caseReader(folder));
      const model = caseModel(gpu, c);
      const merged = caseModel(gpu, c);
      const lora = new LoraAdapter(gpu, c.spec, c.lora.config);
      lora.load(caseTensors(c).lora);
      const adam = { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
      try {
        await mergeLora(merged, lora);
        const prompts = [c.batch.inputIds[0].slice(0, 11), c.batch.inputIds[1].slice(0, 6)];
        const branch = await new Generator(model, lora).generate(prompts, { maxNewTokens: 5 });
        const folded = await new Generator(merged, null).generate(prompts, { maxNewTokens: 5 });
        expect(folded.tokens).toEqual(branch.tokens);
        // The same function: the merged model with a zero adapter against the base with the adapter.
        const zero = new LoraAdapter(gpu, c.spec, c.lora.config);
        zero.initialize(1);
        const withBranch = new Trainer(model, lora, { objective: 'manyicl', adamw: adam, maxGradNorm: 0, recompute: false });
        const withMerge = new Trainer(merged, zero, { objective: 'manyicl', adamw: adam, maxGradNorm: 0, recompute: false });
        const a = await withBranch.logits(c.batch);
        const b = await withMerge.logits(c.batch);
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(a[i] - b[i]));
          scale = Math.max(scale, Math.abs(a[i]));
        }
        expect(diff / scale).toBeLessThan(1e-4);
        withBranch.destroy();
        withMerge.destroy();
        zero.destroy();
      } finally {
        lora.destroy();
        merged.destroy();
        model.destroy();
      }
    });
  }
});
