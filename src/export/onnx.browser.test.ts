// The ONNX export, made in the browser, run by onnxruntime-web's WebAssembly backend against our engine's
// logits (the adapter applied), in one pass and through the KV cache.
import * as ort from 'onnxruntime-web/wasm';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { describe, expect, it } from 'vitest';
import { maxRelError } from '../gpu/gpu.testing';
import { type MakeTensor, type OrtSessionLike, decoderPass } from '../reference/onnx-feed.testing';
import { TINY_SPECS, engineLogits, randomTokens, tinyModel } from '../reference/tiny-decoder.testing';
import { exportOnnx } from './onnx';
import { memoryFolder } from './sink';

ort.env.wasm.wasmPaths = { wasm: wasmUrl };
ort.env.wasm.numThreads = 1;
const make: MakeTensor = (type, data, dims) => new ort.Tensor(type, data, dims);

describe('ONNX export in onnxruntime-web (wasm)', () => {
  for (const arch of ['llama', 'mistral'] as const) {
    it(`gives our engine's logits for a tiny ${arch}, in one pass and through the KV cache`, async () => {
      const spec = TINY_SPECS[arch];
      const m = tinyModel(spec, arch === 'llama' ? 11 : 12);
      const folder = memoryFolder();
      await exportOnnx(m.base, m.adapter, folder, { externalData: arch === 'mistral' });
      const data = folder.files.get('onnx/model.onnx_data');
      const session = (await ort.InferenceSession.create(folder.files.get('onnx/model.onnx')!, {
        executionProviders: ['wasm'],
        ...(data ? { externalData: [{ path: 'model.onnx_data', data }] } : {}),
      })) as unknown as OrtSessionLike;
      const tokens = randomTokens(spec, 10, 1);
      const expected = await engineLogits(m, tokens);
      const ones = (n: number) => new Array<number>(n).fill(1);
      const full = await decoderPass(session, make, spec, [tokens], [ones(10)], null);
      const first = await decoderPass(session, make, spec, [tokens.slice(0, 6)], [ones(6)], null);
      const rest = await decoderPass(session, make, spec, [tokens.slice(6)], [ones(10)], first.present);
      const errors = [maxRelError(full.logits, expected), maxRelError([...first.logits, ...rest.logits], expected)];
      console.log(`${arch}: onnxruntime-web vs engine logits: full ${errors[0].toExponential(2)}, cached ${errors[1].toExponential(2)}`);
      for (const e of errors) expect(e).toBeLessThan(1e-4);
    });
  }
});
