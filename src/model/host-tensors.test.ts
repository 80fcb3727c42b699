import { describe, expect, it } from 'vitest';
import { baseWeights } from '../engine/spec';
import { readGgufBaseModel } from '../reference/case';
import { readFixtureBytes } from '../testdata/cases.testing';
import { bytesRangeSource } from './gguf/reader';
import { ggufHostTensors, safetensorsHostTensors } from './host-tensors';
import { readSafetensors, writeSafetensors } from './safetensors';

describe('host tensors read by range', () => {
  it('GGUF: every base weight equals the whole-file reader (dequantized, q/k rows in HF order)', async () => {
    const bytes = await readFixtureBytes('gguf/llama3-tiny-Q6_K/model.gguf');
    const whole = await readGgufBaseModel(bytes);
    const host = await ggufHostTensors([{ name: 'model.gguf', source: bytesRangeSource(bytes) }]);
    expect(host.spec).toEqual(whole.spec);
    expect(host.tokenizer).toBeUndefined(); // the fixture has no tokenizer metadata
    for (const { name } of baseWeights(host.spec)) expect(await host.tensor(name), name).toEqual(whole.weights.tensor(name));
  }, 30_000); // the comparisons take 3-5 s on a busy 2-core machine


  it('safetensors shards: every base weight equals the file, and a missing tensor is named', async () => {
    const bytes = await readFixtureBytes('reference/llama-tiny/model.safetensors');
    const config = await readFixtureBytes('reference/llama-tiny/config.json');
    const file = readSafetensors(bytes);
    const names = [...file.header.tensors.keys()];
    const shard = (part: string[]) => writeSafetensors(Object.fromEntries(part.map((n) => [n, { shape: file.info(n).shape, data: file.tensor(n) }])));
    const half = Math.ceil(names.length / 2);
    const shards = [shard(names.slice(0, half)), shard(names.slice(half))].map((b, i) => ({ name: `model-0000${i + 1}.safetensors`, source: bytesRangeSource(b) }));
    const host = await safetensorsHostTensors(shards, config);
    for (const { name } of baseWeights(host.spec)) expect(await host.tensor(name), name).toEqual(file.tensor(name));
    await expect(safetensorsHostTensors(shards.slice(0, 1), config)).rejects.toThrow(/model-00001\.safetensors: missing tensors? model\./);
  });
});
