// Greedy continuation of the committed ONNX export (src/testdata/onnx) in onnxruntime-web, against our
// engine's greedy tokens on the same weights and adapter.
import { describe, expect, it } from 'vitest';
import { ONNX_FIXTURE, TINY_SPECS, engineGreedy, randomTokens, tinyModel } from '../reference/tiny-decoder.testing';
import { readFixtureBytes } from '../testdata/cases.testing';
import { onnxGenerator } from './onnx-generate';

async function fixtureFiles(): Promise<Map<string, Uint8Array>> {
  return new Map(await Promise.all(ONNX_FIXTURE.files.map(async (f) => [f, await readFixtureBytes(`${ONNX_FIXTURE.folder}/${f}`)] as const)));
}

describe('ONNX generation in onnxruntime-web', () => {
  const m = tinyModel(TINY_SPECS[ONNX_FIXTURE.arch], ONNX_FIXTURE.seed);
  const prompt = randomTokens(m.spec, 5, 3);
  const newTokens = 8;

  for (const providers of [undefined, ['wasm']]) {
    it(`continues a prompt greedily with our engine's tokens (${providers ? providers.join(', ') : 'default providers'})`, async () => {
      const expected = await engineGreedy(m, prompt, newTokens);
      const generator = await onnxGenerator(await fixtureFiles(), providers ? { executionProviders: providers } : {});
      try {
        if (!providers) expect(generator.executionProviders).toEqual(['webgpu', 'wasm']);
        const result = await generator.generate(prompt, newTokens, [m.spec.eosTokenId!]);
        console.log(`${generator.executionProviders.join(', ')}: ${result.tokens.join(' ')} in ${result.ms.toFixed(0)} ms (prompt ${result.prefillMs.toFixed(0)} ms); engine ${expected.join(' ')}`);
        expect(result.tokens).toEqual(expected);
        expect(result.ms).toBeGreaterThanOrEqual(result.prefillMs);
      } finally {
        await generator.release();
      }
    });
  }
});
