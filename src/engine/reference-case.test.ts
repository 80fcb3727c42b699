import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../model/safetensors';
import { loadReferenceCase } from './reference-case';
import { REFERENCE_CASES, referenceCaseReader } from './testdata/fixtures';

describe('loadReferenceCase', () => {
  for (const name of REFERENCE_CASES) {
    it(`parses ${name}`, async () => {
      const c = await loadReferenceCase(referenceCaseReader(name));
      const { batch, spec } = c;
      const [B, T] = [batch.inputIds.length, batch.inputIds[0].length];
      expect(B).toBe(2);
      expect(batch.attentionMask.length).toBe(B);
      expect(batch.labels.every((row) => row.length === T)).toBe(true);
      expect(c.expected.tensors.info('logits').shape).toEqual([B, T, spec.vocabSize]);
      expect(c.lora.config.rank).toBe(c.expected.json.lora.r);
      expect(c.expected.json.optimizer).toEqual({ lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 });
      expect(c.expected.json.loss_all_answers).toBeGreaterThan(0);
      expect(c.weights.has('lm_head.weight')).toBe(!spec.tieWordEmbeddings);
      expect((c.config as { model_type: string }).model_type).toBe(spec.arch);

      // Every labelled position lies in an answer span and carries the input token there.
      for (let b = 0; b < B; b++) {
        const inSpan = (t: number) => batch.answerSpans[b].some(([s, e]) => s <= t && t < e);
        for (let t = 0; t < T; t++) {
          const label = batch.labels[b][t];
          expect(label === -100 ? !inSpan(t) : inSpan(t) && label === batch.inputIds[b][t]).toBe(true);
        }
      }
      // token_loss is zero exactly where there is no label.
      const tokenLoss = c.expected.tensors.tensor('token_loss');
      for (let i = 0; i < B * T; i++) {
        const labelled = batch.labels[Math.floor(i / T)][i % T] !== -100;
        expect(tokenLoss[i] > 0).toBe(labelled);
      }
    });
  }

  it('matches the padding each case was made with', async () => {
    const llama = await loadReferenceCase(referenceCaseReader('llama-tiny'));
    expect(llama.batch.attentionMask[1].filter((m) => m === 0).length).toBe(9);
    const mistral = await loadReferenceCase(referenceCaseReader('mistral-tiny'));
    expect(mistral.spec.slidingWindow).toBe(16);
    expect(mistral.batch.attentionMask[1].filter((m) => m === 0).length).toBe(5);
  });

  it('reports a broken case by file', async () => {
    const read = referenceCaseReader('llama-tiny');
    const withFile = (name: string, bytes: Uint8Array) => (n: string) => (n === name ? Promise.resolve(bytes) : read(n));
    const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

    const adapterMissingOne = writeSafetensors({
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [4, 64], data: new Float32Array(256) },
    });
    await expect(loadReferenceCase(withFile('adapter_model.safetensors', adapterMissingOne))).rejects.toThrow(
      /adapter_model.safetensors: has no tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"/,
    );
    await expect(loadReferenceCase(withFile('model.safetensors', new Uint8Array(4)))).rejects.toThrow(
      /model.safetensors: safetensors: not a safetensors file/,
    );
    const batch = JSON.parse(new TextDecoder().decode(await read('batch.json')));
    batch.labels[0] = batch.labels[0].slice(1);
    await expect(loadReferenceCase(withFile('batch.json', text(batch)))).rejects.toThrow(/labels\[0\] must be a list of 64/);
    await expect(loadReferenceCase(withFile('expected.json', text({})))).rejects.toThrow(/expected.json: optimizer is missing/);
  });
});
