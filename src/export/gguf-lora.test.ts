import { describe, expect, it } from 'vitest';
import { roundToF16 } from '../engine/ggml';
import { peftKey } from '../engine/peft';
import { LORA_TARGETS, type ModelSpec } from '../engine/spec';
import { readGguf } from '../model/gguf/reader';
import { unpermuteQkRows } from '../model/gguf/spec';
import { adapterScaling } from './adapter';
import { randomExportCase } from './export.testing';
import { ggufLoraBytes } from './gguf-lora';

const SPEC: ModelSpec = {
  arch: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, slidingWindow: null, tieWordEmbeddings: false,
  maxPositionEmbeddings: 64, bosTokenId: 1, eosTokenId: 2,
};
const GGUF_OF = { q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down' };

describe('GGUF LoRA adapter', () => {
  it("has llama.cpp's adapter metadata and lora_a/lora_b of every target, B's q/k rows in llama.cpp's order", async () => {
    const { adapter } = randomExportCase(SPEC, { rank: 2, alpha: 6 }, 3);
    const file = await readGguf(ggufLoraBytes(adapter, { name: 'tiny-lora' }));
    expect(file.header.metadata).toEqual({
      'general.architecture': 'llama', 'general.type': 'adapter', 'general.name': 'tiny-lora', 'general.file_type': 0,
      'general.quantization_version': 2, 'adapter.type': 'lora', 'adapter.lora.alpha': 6,
    });
    expect(file.header.tensorInfos).toHaveLength(SPEC.numLayers * LORA_TARGETS.length * 2);
    for (let layer = 0; layer < SPEC.numLayers; layer++) {
      for (const target of LORA_TARGETS) {
        const name = `blk.${layer}.${GGUF_OF[target]}.weight`;
        const a = adapter.tensors.get(peftKey(layer, target, 'A'))!;
        const b = adapter.tensors.get(peftKey(layer, target, 'B'))!;
        const out = b.length / 2;
        expect(file.info(`${name}.lora_a`).shape).toEqual([a.length / 2, 2]);
        expect(file.info(`${name}.lora_b`).shape).toEqual([2, out]);
        expect(file.tensor(`${name}.lora_a`)).toEqual(a);
        const stored = file.tensor(`${name}.lora_b`);
        const heads = target === 'q_proj' ? SPEC.numHeads : target === 'k_proj' ? SPEC.numKvHeads : 0;
        if (heads) {
          expect(stored, name).not.toEqual(b);
          expect(unpermuteQkRows(stored, out, 2, heads), name).toEqual(b);
        } else {
          expect(stored, name).toEqual(b);
        }
      }
    }
  });

  it('stores F16 when asked, and for rsLoRA an alpha whose alpha / r is the adapter scaling', async () => {
    const { adapter } = randomExportCase(SPEC, { rank: 4, alpha: 3, useRslora: true }, 4);
    const file = await readGguf(ggufLoraBytes(adapter, { type: 'F16', baseRepo: 'org/base' }));
    expect(file.header.metadata['general.base_model.count']).toBe(1);
    expect(file.header.metadata['general.base_model.0.repo_url']).toBe('https://huggingface.co/org/base');
    const alpha = file.header.metadata['adapter.lora.alpha'] as number;
    expect(alpha / 4).toBeCloseTo(adapterScaling(adapter), 6);
    expect(alpha / 4).toBeCloseTo(3 / 2, 6);
    expect(file.header.metadata['general.file_type']).toBe(1);
    const a = adapter.tensors.get(peftKey(1, 'down_proj', 'A'))!;
    expect(file.info('blk.1.ffn_down.weight.lora_a').type).toBe('F16');
    expect(file.tensor('blk.1.ffn_down.weight.lora_a')).toEqual(Float32Array.from(a, roundToF16));
  });
});
