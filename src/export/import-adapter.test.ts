// Adapters imported from files, a URL and a Hub-like server (the project's local HTTP file server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileServer, startFileServer } from '../../e2e/file-server';
import { type LoraConfig, loraTensorShapes } from '../engine/peft';
import type { ModelSpec } from '../engine/spec';
import { EMBEDDED_SPEC } from '../model/embedded';
import { mulberry32 } from '../util/random';
import { importAdapter } from './import-adapter';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, peftFilesOf, zipFiles } from './peft';

const SPEC: ModelSpec = { ...EMBEDDED_SPEC, numLayers: 2 };
const CONFIG: LoraConfig = { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'], useRslora: false };
const next = mulberry32(3);
const tensors = new Map(loraTensorShapes(SPEC, CONFIG).map((t) => [t.key, Float32Array.from({ length: t.shape[0] * t.shape[1] }, () => next())]));
const files = peftFilesOf({ spec: SPEC, config: CONFIG, tensors }, 'org/base');
const configBytes = new TextEncoder().encode(files[ADAPTER_CONFIG]);
const weights = files[ADAPTER_WEIGHTS];
const zip = zipFiles(new Map<string, Uint8Array>([[`a/${ADAPTER_CONFIG}`, configBytes], [`a/${ADAPTER_WEIGHTS}`, weights]]));

let server: FileServer;
beforeAll(async () => {
  server = await startFileServer({
    '/folder/adapter_config.json': { body: configBytes },
    '/folder/adapter_model.safetensors': { body: weights },
    '/half/adapter_config.json': { body: configBytes },
    '/a.zip': { body: zip },
    '/not-zip.bin': { body: 'hello' },
    '/org/private/resolve/main/adapter_config.json': { body: configBytes, token: 'secret' },
    '/org/private/resolve/main/adapter_model.safetensors': { body: weights, token: 'secret' },
  });
});
afterAll(() => server.close());

describe('importAdapter', () => {
  const same = (imported: Awaited<ReturnType<typeof importAdapter>>) => {
    expect(imported.adapter.config).toEqual(CONFIG);
    expect(imported.baseModel).toBe('org/base');
    for (const [key, data] of tensors) expect(imported.adapter.tensors.get(key)).toEqual(data);
  };

  it('reads the two files, or a zip of them', async () => {
    same(await importAdapter({ kind: 'files', files: [{ name: ADAPTER_CONFIG, bytes: configBytes }, { name: ADAPTER_WEIGHTS, bytes: weights }] }, SPEC));
    same(await importAdapter({ kind: 'files', files: [{ name: 'a.zip', bytes: zip }] }, SPEC));
  });

  it('reads a folder URL and a zip URL, and names what is missing', async () => {
    same(await importAdapter({ kind: 'url', url: `${server.url}/folder/` }, SPEC));
    same(await importAdapter({ kind: 'url', url: `${server.url}/a.zip` }, SPEC));
    await expect(importAdapter({ kind: 'url', url: `${server.url}/half/` }, SPEC)).rejects.toThrow(/half\/: no adapter_model\.safetensors at .*\(HTTP 404\)/);
    await expect(importAdapter({ kind: 'url', url: `${server.url}/not-zip.bin` }, SPEC)).rejects.toThrow(/not a zip file/);
    // A signed URL's query is used to fetch but is never part of the name or a message.
    const signed = await importAdapter({ kind: 'url', url: `${server.url}/a.zip?X-Amz-Signature=secret123` }, SPEC);
    expect(signed.name).toBe(`${server.url}/a.zip`);
    const failed = await importAdapter({ kind: 'url', url: `${server.url}/missing.zip?sig=secret123` }, SPEC).catch((e: Error) => e.message);
    expect(failed).toMatch(/missing\.zip/);
    expect(failed).not.toMatch(/secret123/);
  });

  it('reads a Hub repo with a token, and says when the token is missing', async () => {
    same(await importAdapter({ kind: 'hub', repo: 'org/private', token: 'secret', endpoint: server.url }, SPEC));
    await expect(importAdapter({ kind: 'hub', repo: 'org/private', endpoint: server.url }, SPEC)).rejects.toThrow(/HTTP 401: gated or private repo/);
    await expect(importAdapter({ kind: 'hub', repo: 'not a repo' }, SPEC)).rejects.toThrow(/not a Hub repo id/);
  });

  it('refuses an adapter for another base model', async () => {
    await expect(importAdapter({ kind: 'url', url: `${server.url}/folder/` }, { ...SPEC, numLayers: 1 })).rejects.toThrow(/should not have .*layers\.1\./);
  });
});
