// The ONNX export run by onnxruntime-node and by transformers.js (Node, offline), against our engine: logits
// with the adapter merged, through the KV cache, with left padding, and greedy tokens. Node only (native addon).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoModelForCausalLM, Tensor as HfTensor, env } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { maxRelError } from '../gpu/gpu.testing';
import { exportOnnx } from './onnx';
import { decodeModel } from './onnx/proto';
import { type MakeTensor, type OrtSessionLike, decoderPass } from '../reference/onnx-feed.testing';
import { TINY_SPECS, engineGreedy, engineLogits, randomTokens, tinyModel } from '../reference/tiny-decoder.testing';
import { memoryFolder } from './sink';

const make: MakeTensor = (type, data, dims) => new ort.Tensor(type, data, dims);
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function onDisk(files: Map<string, Uint8Array>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'onnx-export-'));
  dirs.push(root);
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(root, 'model', path)), { recursive: true });
    await writeFile(join(root, 'model', path), bytes);
  }
  return root;
}

const rowsOf = (logits: Float32Array, V: number, b: number, S: number, from: number, to: number) =>
  logits.slice((b * S + from) * V, (b * S + to) * V);

for (const arch of ['llama', 'mistral'] as const) {
  describe(`ONNX export of a tiny ${arch}`, () => {
    const spec = TINY_SPECS[arch];
    const m = tinyModel(spec, arch === 'llama' ? 11 : 12);
    const V = spec.vocabSize;
    const T = 10;
    const prefix = 6;
    const a = randomTokens(spec, T, 1);
    const b = randomTokens(spec, 7, 2);

    it('gives our engine\'s logits in one pass and through the KV cache, left-padded in a batch of two', async () => {
      const folder = memoryFolder();
      await exportOnnx(m.base, m.adapter, folder, { externalData: false });
      const model = decodeModel(folder.files.get('onnx/model.onnx')!);
      expect(model.opset_import).toEqual([{ domain: '', version: 18 }]);
      expect(model.graph.initializer.every((t) => t.data_location === undefined && t.raw_data!.length > 0)).toBe(true);
      const config = JSON.parse(new TextDecoder().decode(folder.files.get('config.json')!));
      expect(config.model_type).toBe(arch);
      expect(config['transformers.js_config']).toBeUndefined();

      const session = (await ort.InferenceSession.create(folder.files.get('onnx/model.onnx')!)) as unknown as OrtSessionLike;
      const [expectA, expectB] = [await engineLogits(m, a), await engineLogits(m, b)];
      const ones = (n: number) => new Array<number>(n).fill(1);

      const full = await decoderPass(session, make, spec, [a], [ones(T)], null);
      const fullError = maxRelError(full.logits, expectA);
      const first = await decoderPass(session, make, spec, [a.slice(0, prefix)], [ones(prefix)], null);
      const rest = await decoderPass(session, make, spec, [a.slice(prefix)], [ones(T)], first.present);
      const cachedError = maxRelError([...first.logits, ...rest.logits], expectA);

      // b is left-padded by 3 (token 0, mask 0) beside a.
      const pad = T - b.length;
      const padded = [...new Array<number>(pad).fill(0), ...b];
      const masks = [ones(T), [...new Array<number>(pad).fill(0), ...ones(b.length)]];
      const p1 = await decoderPass(session, make, spec, [a.slice(0, prefix), padded.slice(0, prefix)], masks.map((r) => r.slice(0, prefix)), null);
      const p2 = await decoderPass(session, make, spec, [a.slice(prefix), padded.slice(prefix)], masks, p1.present);
      const batchA = [...rowsOf(p1.logits, V, 0, prefix, 0, prefix), ...rowsOf(p2.logits, V, 0, T - prefix, 0, T - prefix)];
      const batchB = [...rowsOf(p1.logits, V, 1, prefix, pad, prefix), ...rowsOf(p2.logits, V, 1, T - prefix, 0, T - prefix)];
      const batchErrors = [maxRelError(batchA, expectA), maxRelError(batchB, expectB)];
      expect(p1.logits.every(Number.isFinite)).toBe(true);
      expect(p2.present['present.0.key'].dims).toEqual([2, spec.numKvHeads, T, spec.headDim]);

      console.log(`${arch}: ONNX vs engine logits: full ${fullError.toExponential(2)}, cached ${cachedError.toExponential(2)}, batch ${batchErrors.map((e) => e.toExponential(2)).join(' ')}`);
      expect(fullError).toBeLessThan(1e-4);
      expect(cachedError).toBeLessThan(1e-4);
      for (const e of batchErrors) expect(e).toBeLessThan(1e-4);
    });

    it('is loaded offline by transformers.js, which greedy-decodes our engine\'s tokens in f32 and f16, weights in external data', async () => {
      const folder = memoryFolder();
      await exportOnnx(m.base, m.adapter, folder, { externalData: true, fp16: true });
      expect([...folder.files.keys()].filter((f) => f.startsWith('onnx/')).sort()).toEqual(
        ['onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data'],
      );
      const config = JSON.parse(new TextDecoder().decode(folder.files.get('config.json')!));
      expect(config['transformers.js_config']).toEqual({ use_external_data_format: { 'model.onnx': 1, 'model_fp16.onnx': 1 } });
      const graph = decodeModel(folder.files.get('onnx/model.onnx')!).graph;
      const external = graph.initializer.filter((t) => t.data_location === 1);
      expect(external.length).toBeGreaterThan(0);
      expect(external.every((t) => t.raw_data === undefined)).toBe(true);

      const root = await onDisk(folder.files);
      // Both graphs read their weights from the data files beside them; f16 weights move the logits by 1-2e-3.
      const expectLogits = await engineLogits(m, a);
      for (const [file, tolerance] of [['model.onnx', 1e-4], ['model_fp16.onnx', 5e-3]] as const) {
        const session = (await ort.InferenceSession.create(join(root, 'model', 'onnx', file))) as unknown as OrtSessionLike;
        const error = maxRelError((await decoderPass(session, make, spec, [a], [new Array<number>(T).fill(1)], null)).logits, expectLogits);
        console.log(`${arch} ${file} (external data) vs engine logits: ${error.toExponential(2)}`);
        expect(error).toBeLessThan(tolerance);
      }
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = root;
      env.useFSCache = false;
      const prompt = a.slice(0, 5);
      const newTokens = 8;
      const expected = await engineGreedy(m, prompt, newTokens);
      for (const dtype of ['fp32', 'fp16'] as const) {
        const model = await AutoModelForCausalLM.from_pretrained('model', { dtype, device: 'cpu' });
        try {
          const input = new HfTensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
          const output = (await model.generate({ input_ids: input, max_new_tokens: newTokens, do_sample: false })) as HfTensor;
          const tokens = Array.from(output.data as BigInt64Array, Number).slice(prompt.length);
          console.log(`${arch} transformers.js ${dtype}: ${tokens.join(' ')} (engine: ${expected.join(' ')})`);
          expect(tokens).toEqual(expected);
        } finally {
          await model.dispose();
        }
      }
    });
  });
}
