import { describe, expect, it } from 'vitest';
import { matrixType } from '../model/gguf/convert';
import { dequantize, roundToF16 } from '../engine/ggml';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, unpermuteQkRows } from '../model/gguf/spec';
import { writeSafetensors } from '../model/safetensors';
import { GGUF_CASES } from './make-gguf-case';
import { loadReferenceCase } from './case';
import { REFERENCE_CASES, caseReader, readFixtureBytes, referenceCaseReader } from '../testdata/cases.testing';

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

/** Bitwise equality (toEqual is slow on large arrays). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  return x.every((bits, i) => bits === y[i]);
}

describe('loadReferenceCase with a GGUF base model', () => {
  const committed = GGUF_CASES.filter((c) => c.committed);
  const html = new TextEncoder().encode('<!doctype html>\n<html lang="en"><head></head></html>\n');

  for (const { name, source, type } of committed) {
    it(`reads gguf/${name}: the source's spec and weights, q/k rows in HF order`, async () => {
      const original = await loadReferenceCase(caseReader(source));
      const c = await loadReferenceCase(caseReader(`gguf/${name}`));
      expect(c.baseFormat).toBe('gguf');
      expect(c.config).toBeNull();
      expect(c.spec).toEqual(original.spec);
      expect(c.weights.has('lm_head.weight')).toBe(!c.spec.tieWordEmbeddings);
      const gguf = c.gguf!;
      expect(gguf.header.tensorInfos.some((t) => t.name === ROPE_FREQS_TENSOR)).toBe(c.spec.ropeScaling?.type === 'llama3');

      const file = await readFixtureBytes(`gguf/${name}/model.gguf`);
      const hfNames = [...original.weights.header.tensors.keys()];
      expect([...c.weights.header.tensors.keys()].sort()).toEqual([...hfNames].sort());
      for (const hfName of hfNames) {
        const shape = original.weights.info(hfName).shape;
        const info = gguf.header.tensorInfos.find((t) => t.name === ggufNameOfHfTensor(hfName))!;
        const stored = gguf.tensorBytes(hfName);
        expect(c.weights.info(hfName).shape, hfName).toEqual(shape);
        expect(stored.shape, hfName).toEqual(shape);
        expect(info.shape, hfName).toEqual([...shape].reverse());
        expect(stored.type, hfName).toBe(info.type);
        if (shape.length === 2) expect(info.type, hfName).toBe(matrixType(type, shape[1]));

        const elements = shape.reduce((a, b) => a * b, 1);
        const values = c.weights.tensor(hfName);
        expect(sameValues(values, dequantize(stored.type, stored.bytes, elements)), hfName).toBe(true);
        expect(sameValues(new Float32Array(c.weights.tensorBytes(hfName).buffer), values), hfName).toBe(true);
        const raw = dequantize(info.type, file.subarray(info.offset, info.offset + info.byteLength), elements);
        const heads = hfName.includes('q_proj') ? c.spec.numHeads : hfName.includes('k_proj') ? c.spec.numKvHeads : null;
        if (heads === null) {
          expect(sameValues(values, raw), hfName).toBe(true);
        } else {
          // The file holds llama.cpp's row order; the loader gives HF's.
          expect(sameValues(values, raw), hfName).toBe(false);
          expect(sameValues(values, unpermuteQkRows(raw, shape[0], shape[1], heads)), hfName).toBe(true);
        }
        if (type === 'F16') {
          // Every value is the source's, rounded to half precision, at the same place.
          const source = original.weights.tensor(hfName);
          const rounded = shape.length === 1 ? source : source.map(roundToF16);
          expect(sameValues(values, rounded), hfName).toBe(true);
        }
      }
    });
  }

  /** llama-tiny-F16 with some files replaced (undefined: the file is missing). */
  const ggufCase = (files: Record<string, Uint8Array | undefined>) => {
    const read = caseReader('gguf/llama-tiny-F16');
    return (name: string) => {
      if (!(name in files)) return read(name);
      const bytes = files[name];
      return bytes ? Promise.resolve(bytes) : Promise.reject(new Error(`ENOENT: no such file, open '${name}'`));
    };
  };

  it('tells the two base model formats apart by content, as a dev server answers missing files with HTML', async () => {
    const read = referenceCaseReader('llama-tiny');
    const safetensorsCase = await loadReferenceCase((name) => (name === 'model.gguf' ? Promise.resolve(html) : read(name)));
    expect(safetensorsCase.baseFormat).toBe('safetensors');
    expect(safetensorsCase.gguf).toBeUndefined();
    const c = await loadReferenceCase(ggufCase({ 'config.json': html, 'model.safetensors': html }));
    expect(c.baseFormat).toBe('gguf');
  });

  it('reports a folder with both base models, or neither, or a broken model.gguf', async () => {
    const reference = referenceCaseReader('llama-tiny');
    const model = await reference('model.safetensors');
    const config = await reference('config.json');
    const gguf = await readFixtureBytes('gguf/llama-tiny-F16/model.gguf');

    await expect(loadReferenceCase(ggufCase({ 'model.safetensors': model }))).rejects.toThrow(
      /model.gguf: the folder also has model.safetensors/,
    );
    await expect(loadReferenceCase(ggufCase({ 'config.json': config }))).rejects.toThrow(
      /config.json: a GGUF case \(model.gguf\) takes its architecture from the GGUF metadata/,
    );
    await expect(loadReferenceCase(ggufCase({ 'model.gguf': undefined }))).rejects.toThrow(
      /neither model.safetensors \(with config.json\) nor model.gguf \(model.safetensors: ENOENT.*; model.gguf: ENOENT/,
    );
    await expect(loadReferenceCase(ggufCase({ 'model.gguf': html }))).rejects.toThrow(/model.gguf: GGUF: not a GGUF file/);
    await expect(loadReferenceCase(ggufCase({ 'model.gguf': gguf.subarray(0, 200) }))).rejects.toThrow(/model.gguf: GGUF: /);

    // A layer's tensor renamed to a layer the model does not have.
    const renamed = gguf.slice();
    const at = new TextDecoder('latin1').decode(renamed).indexOf('blk.1.ffn_up.weight');
    expect(at).toBeGreaterThan(0);
    renamed[at + 4] = '9'.charCodeAt(0);
    await expect(loadReferenceCase(ggufCase({ 'model.gguf': renamed }))).rejects.toThrow(
      /model.gguf: GGUF: tensor blk.9.ffn_up.weight belongs to layer 9, but llama.block_count is 2 \(layers 0..1\)/,
    );
  });
});
