import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { runDecodeBench } from './decode';

describe('decode benchmark', () => {
  it('times the prefill and the decode steps and frees what it made', async () => {
    const gpu = await testGpu();
    const allocated = gpu.allocatedBytes;
    const result = await runDecodeBench(gpu, { shape: 'tiny', prompt: 12, newTokens: 3, batch: 2, rank: 4 });
    expect(result).toMatchObject({ shape: 'tiny', batch: 2, prompt: 12, new_tokens: 3, rank: 4 });
    for (const key of ['prefill_ms', 'prefill_tokens_per_s', 'decode_ms_per_token', 'decode_tokens_per_s'] as const) {
      expect(Number.isFinite(result[key]) && result[key] > 0, key).toBe(true);
    }
    expect(result.prefill_tokens_per_s).toBeCloseTo((2 * 12) / (result.prefill_ms / 1000), 6);
    expect(result.decode_tokens_per_s).toBeCloseTo(2 / (result.decode_ms_per_token / 1000), 6);
    expect(gpu.allocatedBytes).toBe(allocated);
    await expect(runDecodeBench(gpu, { shape: 'nope', prompt: 1, newTokens: 2, batch: 1, rank: 0 })).rejects.toThrow(/unknown shape nope/);
  });
});
