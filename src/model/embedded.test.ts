import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ALPHABET, charTokenizer } from '../data/tokenizer';
import { specFromHfConfig } from './config';
import { EMBEDDED_MODEL_PATH, EMBEDDED_SPEC, makeEmbeddedModel } from './embedded';
import { readSafetensors } from './safetensors';
import { loadTokenizer } from './tokenizer';

const shipped = (name: string) => readFile(new URL(`../../public/${EMBEDDED_MODEL_PATH}/${name}`, import.meta.url));
const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

describe('the embedded default model', () => {
  const files = makeEmbeddedModel();

  it('is what public/ ships, byte for byte (the generator is deterministic)', async () => {
    for (const [name, bytes] of files) expect(Buffer.compare(await shipped(name), bytes), name).toBe(0);
  });

  it('reads back through the HF config and safetensors loaders, at most 20 MB', () => {
    expect(specFromHfConfig(json(files.get('config.json')!))).toEqual(EMBEDDED_SPEC);
    const weights = readSafetensors(files.get('model.safetensors')!);
    expect(weights.has('lm_head.weight')).toBe(false);
    expect(weights.info('model.layers.3.mlp.down_proj.weight').shape).toEqual([128, 352]);
    const total = [...files.values()].reduce((n, b) => n + b.length, 0);
    expect(total).toBeLessThan(20e6);
  });

  it('has a tokenizer.json that @huggingface/transformers encodes one id per character', () => {
    const tokenizer = loadTokenizer({ tokenizer: json(files.get('tokenizer.json')!), config: json(files.get('tokenizer_config.json')!) });
    const reference = charTokenizer(DEFAULT_ALPHABET);
    const text = 'in: what is 12 + 30?\nout: 42\n\nin: the cat sat.\nout: seven\n\n';
    expect(tokenizer.encode(text)).toEqual(reference.encode(text));
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.encode('é')).toEqual([3]);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId, tokenizer.vocabSize]).toEqual([1, 2, 0, 64]);
  });
});
