// Model files for the model library's tests, built the same way in Node (the test file servers) and in the
// browser (to compare the cached bytes with what was served).
import { writeGguf } from '../gguf/writer';
import { fixtureBytes, fixtureSafetensors } from './files.testing';

/** A small valid GGUF: llama metadata and one F32 tensor of `elements` values (a multiple of 8). */
export function fixtureGguf(seed: number, elements = 64): Uint8Array<ArrayBuffer> {
  const values = new Float32Array(fixtureBytes(elements * 4, seed).buffer).map((v) => (Number.isFinite(v) ? v : 0));
  const bytes = writeGguf({
    metadata: { 'general.architecture': 'llama', 'general.name': `library fixture ${seed}` },
    tensors: [{ name: 'token_embd.weight', type: 'F32', shape: [8, elements / 8], data: new Uint8Array(values.buffer) }],
  });
  return new Uint8Array(bytes);
}

export const FIXTURE_CONFIG_JSON = JSON.stringify({ model_type: 'llama', hidden_size: 8, num_hidden_layers: 1 });
export const FIXTURE_TOKENIZER_JSON = JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] } });
export const FIXTURE_TOKENIZER_CONFIG_JSON = JSON.stringify({ eos_token: 'b' });

/** A safetensors model folder: weights, config, tokenizer and tokenizer config. */
export function fixtureSafetensorsFolder(seed: number): Record<string, Uint8Array<ArrayBuffer> | string> {
  return {
    'model.safetensors': fixtureSafetensors(seed),
    'config.json': FIXTURE_CONFIG_JSON,
    'tokenizer.json': FIXTURE_TOKENIZER_JSON,
    'tokenizer_config.json': FIXTURE_TOKENIZER_CONFIG_JSON,
  };
}

/** A folder with two safetensors shards and their index (no tokenizer_config.json). */
export function fixtureShardedFolder(): Record<string, Uint8Array<ArrayBuffer> | string> {
  const index = {
    metadata: {},
    weight_map: { 'a.odd': 'model-00001-of-00002.safetensors', 'b.tiny': 'model-00002-of-00002.safetensors' },
  };
  return {
    'model.safetensors.index.json': JSON.stringify(index),
    'model-00001-of-00002.safetensors': fixtureSafetensors(21),
    'model-00002-of-00002.safetensors': fixtureSafetensors(22),
    'config.json': FIXTURE_CONFIG_JSON,
    'tokenizer.json': FIXTURE_TOKENIZER_JSON,
  };
}

/** The parts of a GGUF split in two (each part is a GGUF file of its own, as llama.cpp's gguf-split makes). */
export function fixtureSplitGguf(): Record<string, Uint8Array<ArrayBuffer>> {
  return { 'tiny-00001-of-00002.gguf': fixtureGguf(31), 'tiny-00002-of-00002.gguf': fixtureGguf(32) };
}
