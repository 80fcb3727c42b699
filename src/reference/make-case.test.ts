import { describe, expect, it } from 'vitest';
import { loadReferenceCase } from './case';
import type { ModelSpec } from '../engine/spec';
import { GENERATED_CASES, type MakeCaseOptions, makeReferenceCase, randomCase } from './make-case';
import { hfConfigJson, specFromHfConfig } from '../model/config';
import { cpuReferenceStep, stepInputOfCase } from './cpu-step';

const tinyMistral: MakeCaseOptions = {
  spec: {
    arch: 'mistral',
    vocabSize: 41,
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    rmsNormEps: 1e-6,
    ropeTheta: 1e6,
    ropeScaling: null,
    slidingWindow: 5,
    tieWordEmbeddings: true,
    maxPositionEmbeddings: 4096,
    bosTokenId: 1,
    eosTokenId: 2,
  },
  batch: 2,
  seqLen: 13,
  answers: 3,
  pad: 4,
  rank: 3,
  alpha: 5,
  targets: ['v_proj', 'k_proj', 'up_proj'],
  seed: 5,
};

function reader(files: Map<string, Uint8Array>) {
  return async (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new Error(`no file ${name}`);
    return bytes;
  };
}

describe('hfConfigJson', () => {
  const specs: ModelSpec[] = [
    ...GENERATED_CASES.map((c) => c.options.spec),
    { ...tinyMistral.spec, slidingWindow: null, ropeScaling: { type: 'linear', factor: 2 }, bosTokenId: null },
  ];
  for (const spec of specs) {
    it(`reads back as the same spec (${spec.arch}, ${spec.ropeScaling?.type ?? 'no'} scaling)`, () => {
      expect(specFromHfConfig(hfConfigJson(spec))).toEqual(spec);
    });
  }
});

describe('makeReferenceCase', () => {
  it('writes a case that loadReferenceCase reads back', async () => {
    const files = makeReferenceCase(tinyMistral);
    expect([...files.keys()].sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'batch.json',
      'config.json',
      'expected.json',
      'expected.safetensors',
      'model.safetensors',
    ]);
    const c = await loadReferenceCase(reader(files));
    const { input, weights, lora } = randomCase(tinyMistral);

    expect(c.spec).toEqual(tinyMistral.spec);
    expect(c.lora.config).toEqual({ rank: 3, alpha: 5, targets: ['k_proj', 'v_proj', 'up_proj'], useRslora: false });
    expect(c.batch).toEqual(input.batch);
    expect(c.weights.has('lm_head.weight')).toBe(false);
    expect([...c.weights.header.tensors.keys()].sort()).toEqual([...weights.keys()].sort());
    for (const [name, tensor] of weights) expect(c.weights.tensor(name)).toEqual(tensor.data);
    for (const [key, tensor] of lora) expect(c.lora.tensors.tensor(key)).toEqual(tensor.data);
    expect(c.expected.json.optimizer).toEqual({ lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 });
    expect(c.expected.json.lora.scaling).toBeCloseTo(5 / 3, 12);

    // The batch follows make_fixtures.py: padding at the end of the last row, labels = inputs inside the spans.
    expect(c.batch.attentionMask[1].slice(9)).toEqual([0, 0, 0, 0]);
    expect(c.batch.inputIds[1].slice(9)).toEqual([0, 0, 0, 0]);
    for (let b = 0; b < 2; b++) {
      for (const [start, end] of c.batch.answerSpans[b]) {
        for (let t = start; t < end; t++) expect(c.batch.labels[b][t]).toBe(c.batch.inputIds[b][t]);
      }
    }

    // The expected values are the CPU step's, rounded to float32.
    const out = cpuReferenceStep(stepInputOfCase(c));
    expect(c.expected.json.loss_all_answers).toBe(out.lossAllAnswers);
    expect(c.expected.json.loss_last_answer).toBe(out.lossLastAnswer);
    expect(c.expected.tensors.tensor('logits')).toEqual(Float32Array.from(out.logits));
    expect(c.expected.tensors.tensor('token_loss')).toEqual(Float32Array.from(out.tokenLoss));
    for (const key of lora.keys()) {
      expect(c.expected.tensors.tensor(`grad.${key}`)).toEqual(Float32Array.from(out.grads.get(key)!));
      expect(c.expected.tensors.tensor(`after.${key}`)).toEqual(Float32Array.from(out.after.get(key)!));
    }
  });

  it('is reproducible from its seed', () => {
    const first = makeReferenceCase(tinyMistral);
    const second = makeReferenceCase(tinyMistral);
    for (const [name, bytes] of first) expect(second.get(name)).toEqual(bytes);
    const other = makeReferenceCase({ ...tinyMistral, seed: 6 });
    expect(other.get('model.safetensors')).not.toEqual(first.get('model.safetensors'));
  });

  it('rejects a batch the answers do not fit in', () => {
    expect(() => makeReferenceCase({ ...tinyMistral, seqLen: 8, pad: 3, answers: 3 })).toThrow(/do not fit/);
    expect(() => makeReferenceCase({ ...tinyMistral, spec: { ...tinyMistral.spec, arch: 'llama' } })).toThrow(/sliding window/);
  });
});
