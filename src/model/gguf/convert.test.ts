import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { specFromHfConfig } from '../config';
import { EMBEDDED_MODEL_PATH } from '../embedded';
import { readSafetensors } from '../safetensors';
import { loadTokenizer } from '../tokenizer';
import { ggufFromHfModel, matrixType } from './convert';
import { dequantize, quantize } from '../../engine/ggml';
import { readGguf } from './reader';
import { ROPE_FREQS_TENSOR, hfNameOfGgufTensor, specFromGguf, unpermuteQkRowBytes, unpermuteQkRows } from './spec';
import { tokenizerJsonFromGguf } from './tokenizer';

const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));
// Plain Uint8Arrays: a Node Buffer's slice() is a view, which readSafetensors does not expect.
const fixture = async (name: string, file: string) =>
  new Uint8Array(await readFile(new URL(`../../testdata/reference/${name}/${file}`, import.meta.url)));
const shipped = async (file: string) =>
  new Uint8Array(await readFile(new URL(`../../../public/${EMBEDDED_MODEL_PATH}/${file}`, import.meta.url)));

async function loadHfModel(read: (file: string) => Promise<Uint8Array>) {
  const config = json(await read('config.json'));
  const weights = readSafetensors(await read('model.safetensors'));
  return { config, spec: specFromHfConfig(config), weights };
}

/** Index of the first value whose bits differ, -1 when the arrays are identical (toEqual is slow on big arrays). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Heads of a GGUF q/k tensor, or null for other tensors. */
function qkHeads(name: string, spec: { numHeads: number; numKvHeads: number }): number | null {
  if (name.endsWith('.attn_q.weight')) return spec.numHeads;
  if (name.endsWith('.attn_k.weight')) return spec.numKvHeads;
  return null;
}

describe('ggufFromHfModel', () => {
  for (const name of ['llama-tiny', 'mistral-tiny', 'llama3-tiny']) {
    it(`${name}: an F32 GGUF reads back as the HF tensors and the same ModelSpec`, async () => {
      const { config, spec, weights } = await loadHfModel((file) => fixture(name, file));
      const bytes = ggufFromHfModel({ spec, config, type: 'F32', tensors: (n) => (weights.has(n) ? weights.tensor(n) : undefined) });
      const file = await readGguf(bytes);

      // Every HF tensor, and nothing else (no output.weight when tied), plus rope_freqs for Llama 3 scaling.
      const ggufNames = file.header.tensorInfos.map((t) => t.name);
      const hfNames = ggufNames.filter((n) => n !== ROPE_FREQS_TENSOR).map((n) => hfNameOfGgufTensor(n));
      expect(new Set(hfNames)).toEqual(new Set(weights.header.tensors.keys()));
      expect(ggufNames.includes('output.weight')).toBe(!spec.tieWordEmbeddings);
      expect(ggufNames.includes(ROPE_FREQS_TENSOR)).toBe(spec.ropeScaling?.type === 'llama3');

      for (const info of file.header.tensorInfos) {
        if (info.name === ROPE_FREQS_TENSOR) continue;
        const hfName = hfNameOfGgufTensor(info.name)!;
        const hfShape = weights.info(hfName).shape;
        expect(info.shape, info.name).toEqual([...hfShape].reverse());
        expect(info.type).toBe('F32');
        let values = file.tensor(info.name);
        const heads = qkHeads(info.name, spec);
        if (heads !== null) {
          expect(firstDifference(values, weights.tensor(hfName)), `${info.name} is permuted`).not.toBe(-1);
          values = unpermuteQkRows(values, hfShape[0], hfShape[1], heads);
        }
        expect(firstDifference(values, weights.tensor(hfName)), info.name).toBe(-1);
      }

      const factors = file.has(ROPE_FREQS_TENSOR) ? file.tensor(ROPE_FREQS_TENSOR) : undefined;
      expect(specFromGguf(file.header.metadata, file.header.tensorInfos, factors)).toEqual(spec);
    });
  }

  it('llama3-tiny: rope_freqs.weight holds the Llama 3 factors, recovered exactly', async () => {
    const { config, spec, weights } = await loadHfModel((file) => fixture('llama3-tiny', file));
    const file = await readGguf(ggufFromHfModel({ spec, config, type: 'F32', tensors: (n) => weights.tensor(n) }));
    expect(file.info(ROPE_FREQS_TENSOR).shape).toEqual([spec.headDim / 2]);
    expect(file.header.metadata['llama.rope.scaling.type']).toBeUndefined();
    expect(specFromGguf(file.header.metadata, file.header.tensorInfos, file.tensor(ROPE_FREQS_TENSOR)).ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 64,
    });
  });

  it('quantizes 2-D weights, keeps norms in F32, and un-permutes quantized q/k rows without decoding', async () => {
    const { config, spec, weights } = await loadHfModel((file) => fixture('llama-tiny', file));
    const file = await readGguf(ggufFromHfModel({ spec, config, type: 'Q8_0', tensors: (n) => weights.tensor(n) }));
    expect(file.header.metadata['general.file_type']).toBe(7);
    for (const info of file.header.tensorInfos) {
      const hfName = hfNameOfGgufTensor(info.name)!;
      const hf = weights.tensor(hfName);
      if (info.shape.length === 1) {
        expect(info.type).toBe('F32');
        expect(firstDifference(file.tensor(info.name), hf)).toBe(-1);
        continue;
      }
      expect(info.type).toBe('Q8_0');
      const heads = qkHeads(info.name, spec);
      const [cols, rows] = info.shape;
      const encoded = heads === null ? file.tensorBytes(info.name) : unpermuteQkRowBytes(file.tensorBytes(info.name), rows, heads);
      const expected = dequantize('Q8_0', quantize('Q8_0', hf), hf.length);
      expect(firstDifference(dequantize('Q8_0', encoded, rows * cols), expected), info.name).toBe(-1);
    }
  });

  it('falls back to Q8_0, then F16, for rows that are not whole blocks of the requested type', () => {
    expect(matrixType('Q4_K', 4096)).toBe('Q4_K');
    expect(matrixType('Q4_K', 64)).toBe('Q8_0');
    expect(matrixType('Q6_K', 96)).toBe('Q8_0');
    expect(matrixType('Q4_0', 40)).toBe('F16');
    expect(matrixType('BF16', 40)).toBe('BF16');
  });

  it('converts the embedded model, its character-level tokenizer included', async () => {
    const { config, spec, weights } = await loadHfModel(shipped);
    const tokenizerFiles = {
      tokenizer: json(await shipped('tokenizer.json')),
      config: json(await shipped('tokenizer_config.json')),
    };
    const bytes = ggufFromHfModel({ spec, config, type: 'Q4_K', tokenizer: tokenizerFiles, tensors: (n) => weights.tensor(n) });
    const file = await readGguf(bytes);
    expect(specFromGguf(file.header.metadata, file.header.tensorInfos)).toEqual(spec);
    // d = 128 and f = 352 are not whole Q4_K blocks (256): the matrices fall back to Q8_0.
    expect(file.info('blk.0.ffn_down.weight').type).toBe('Q8_0');
    expect(file.has('output.weight')).toBe(false);

    const original = loadTokenizer(tokenizerFiles);
    const converted = loadTokenizer(tokenizerJsonFromGguf(file.header.metadata));
    const text = 'in: what is 12 + 30 ?\nout: 42\n\nin: the cat sat . é\nout: seven\n\n';
    expect(converted.encode(text)).toEqual(original.encode(text));
    expect(converted.decode(original.encode(text))).toBe(original.decode(original.encode(text)));
    expect([converted.bosId, converted.eosId, converted.padId, converted.vocabSize]).toEqual([
      original.bosId,
      original.eosId,
      original.padId,
      original.vocabSize,
    ]);
  });

  it('names a missing tensor', async () => {
    const { config, spec, weights } = await loadHfModel((file) => fixture('llama-tiny', file));
    const tensors = (n: string) => (n === 'lm_head.weight' ? undefined : weights.tensor(n));
    expect(() => ggufFromHfModel({ spec, config, type: 'F32', tensors })).toThrow('missing tensor lm_head.weight');
  });
});
