import { describe, expect, it } from 'vitest';
import { readFixtureBytes } from '../testdata/cases.testing';
import { planCachedModel } from './plan-cached';
import type { ModelCache } from './sources/cache';
import type { CachedModel } from './sources/library';

/** A model cache holding `files` (only what planCachedModel reads: blobs by key). */
function cacheOf(files: Record<string, Uint8Array | string>): ModelCache {
  return { blob: async (key: string) => (key in files ? new Blob([files[key] as BlobPart]) : null) } as unknown as ModelCache;
}

const manifest = (format: 'gguf' | 'safetensors', weights: string[], config?: string): CachedModel => ({
  id: 'm', name: 'm', origin: { kind: 'url', url: 'http://x/' } as unknown as CachedModel['origin'], format, weights, config, bytes: 0, addedAt: 0,
});
const options = { batch: 1, seqLen: 16, recompute: false, lora: { rank: 2, targets: ['q_proj' as const] }, limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 } };

describe('planCachedModel (the model picker)', () => {
  it('carries the warnings of the defaults the files leave to the loader', async () => {
    const gguf = await readFixtureBytes('gguf/llama3-tiny-F16/model.gguf');
    const planned = await planCachedModel(manifest('gguf', ['a.gguf']), undefined, options, cacheOf({ 'a.gguf': gguf }));
    expect(planned.warnings).toEqual(['output.weight is absent: the LM head is tied to token_embd.weight']);

    const config = JSON.parse(new TextDecoder().decode(await readFixtureBytes('reference/llama-tiny/config.json')));
    delete config.rms_norm_eps;
    const files = { 'config.json': JSON.stringify(config), 'model.safetensors': await readFixtureBytes('reference/llama-tiny/model.safetensors') };
    const st = await planCachedModel(manifest('safetensors', ['model.safetensors'], 'config.json'), undefined, options, cacheOf(files));
    expect(st.warnings).toEqual(['config.json has no rms_norm_eps: 0.000001 assumed']);
  });

  it('refuses what the loader refuses, naming the file', async () => {
    const config = JSON.parse(new TextDecoder().decode(await readFixtureBytes('reference/llama-tiny/config.json')));
    const files = { 'config.json': JSON.stringify({ ...config, num_hidden_layers: 1 }), 'model.safetensors': await readFixtureBytes('reference/llama-tiny/model.safetensors') };
    await expect(planCachedModel(manifest('safetensors', ['model.safetensors'], 'config.json'), undefined, options, cacheOf(files))).rejects.toThrow(
      /model\.safetensors: tensor model\.layers\.1\.[a-z_.]+ belongs to layer 1, but config\.json has num_hidden_layers 1/,
    );
    const gguf = (await readFixtureBytes('gguf/llama-tiny-Q8_0/model.gguf')).slice(0, 3000);
    await expect(planCachedModel(manifest('gguf', ['a.gguf']), undefined, options, cacheOf({ 'a.gguf': gguf }))).rejects.toThrow(/^a\.gguf: GGUF: truncated file/);
  });
});
