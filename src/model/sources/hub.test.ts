import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileServer, fakeHubRoutes, startFileServer } from '../../../e2e/file-server';
import { streamFile } from './download';
import { HubError, hubFileUrl, resolveHubFiles, splitGgufParts } from './hub';
import { fixtureBytes } from './files.testing';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const SHARD1 = fixtureBytes(5000, 1);
const SHARD2 = fixtureBytes(3001, 2);
const SINGLE = fixtureBytes(4000, 3);
const GGUF_PARTS = [fixtureBytes(1000, 4), fixtureBytes(1001, 5), fixtureBytes(999, 6)];
const INDEX = JSON.stringify({
  metadata: { total_size: 8001 },
  weight_map: {
    'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
    'model.layers.0.mlp.up_proj.weight': 'model-00002-of-00002.safetensors',
    'model.layers.0.self_attn.q_proj.weight': 'model-00001-of-00002.safetensors',
  },
});

let hub: FileServer;
let cdn: FileServer;

beforeAll(async () => {
  cdn = await startFileServer({}, { maxRequests: 200, lifetimeMs: 60_000 });
  const routes = fakeHubRoutes(
    [
      {
        repo: 'org/sharded',
        files: {
          'model.safetensors.index.json': INDEX,
          'model-00001-of-00002.safetensors': SHARD1,
          'model-00002-of-00002.safetensors': SHARD2,
          'config.json': '{"model_type":"llama"}',
          'tokenizer.json': '{}',
          'tokenizer_config.json': '{}',
        },
      },
      { repo: 'org/single', revision: 'v1.0', files: { 'model.safetensors': SINGLE, 'config.json': '{}' } },
      {
        repo: 'org/gguf',
        files: Object.fromEntries(GGUF_PARTS.map((part, i) => [`q4/llama-q4_k_m-0000${i + 1}-of-00003.gguf`, part])),
      },
      { repo: 'org/broken-gguf', files: { 'm-00001-of-00002.gguf': GGUF_PARTS[0] } },
      { repo: 'org/gated', files: { 'model.safetensors': SINGLE }, token: 'hf_good' },
      { repo: 'org/empty', files: { 'README.md': 'nothing' } },
    ],
    cdn.url,
  );
  for (const [path, route] of Object.entries(routes.cdn)) cdn.routes.set(path, route);
  hub = await startFileServer(routes.hub, { fallback: routes.fallback, maxRequests: 300, lifetimeMs: 60_000 });
});

afterAll(async () => {
  await Promise.all([hub.close(), cdn.close()]);
});

describe('splitGgufParts', () => {
  it('lists every part from any one of them', () => {
    expect(splitGgufParts('dir/m-00002-of-00003.gguf')).toEqual([
      'dir/m-00001-of-00003.gguf',
      'dir/m-00002-of-00003.gguf',
      'dir/m-00003-of-00003.gguf',
    ]);
    expect(splitGgufParts('m.gguf')).toBeNull();
    expect(splitGgufParts('m-00004-of-00003.gguf')).toBeNull();
  });
});

describe('hubFileUrl', () => {
  it('builds resolve URLs, encoding the revision and path segments', () => {
    expect(hubFileUrl('https://huggingface.co/', 'a/b', 'refs/pr/1', 'sub dir/x.json')).toBe(
      'https://huggingface.co/a/b/resolve/refs%2Fpr%2F1/sub%20dir/x.json',
    );
  });
});

describe('resolveHubFiles', () => {
  it('resolves sharded safetensors through the index, with sizes and sha256 from the Hub', async () => {
    const model = await resolveHubFiles({ repo: 'org/sharded', endpoint: hub.url });
    expect(model.format).toBe('safetensors');
    expect(model.revision).toBe('main');
    expect(model.weights.map((w) => w.path)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(model.weights[0]).toMatchObject({
      url: `${hub.url}/org/sharded/resolve/main/model-00001-of-00002.safetensors`,
      size: SHARD1.length,
      sha256: sha256(SHARD1),
    });
    expect(model.weights[1]).toMatchObject({ size: SHARD2.length, sha256: sha256(SHARD2) });
    expect(model.weightBytes).toBe(SHARD1.length + SHARD2.length);
    expect(model.weightMap?.['model.layers.0.mlp.up_proj.weight']).toBe('model-00002-of-00002.safetensors');
    expect(model.config?.path).toBe('config.json');
    expect(model.config?.sha256).toBeUndefined(); // a git blob's ETag is a sha1, not a sha256
    expect(model.tokenizer?.path).toBe('tokenizer.json');
    expect(model.tokenizerConfig?.path).toBe('tokenizer_config.json');
  });

  it('falls back to model.safetensors, at a revision, and leaves out absent tokenizer files', async () => {
    const model = await resolveHubFiles({ repo: 'org/single', revision: 'v1.0', endpoint: `${hub.url}/` });
    expect(model.weights).toEqual([
      { path: 'model.safetensors', url: `${hub.url}/org/single/resolve/v1.0/model.safetensors`, size: SINGLE.length, sha256: sha256(SINGLE) },
    ]);
    expect(model.weightMap).toBeUndefined();
    expect(model.config).toBeDefined();
    expect(model.tokenizer).toBeUndefined();
    expect(model.tokenizerConfig).toBeUndefined();
  });

  it('detects split GGUF files and lists all parts in order', async () => {
    const model = await resolveHubFiles({ repo: 'org/gguf', file: 'q4/llama-q4_k_m-00002-of-00003.gguf', endpoint: hub.url });
    expect(model.format).toBe('gguf');
    expect(model.weights.map((w) => [w.path, w.size, w.sha256])).toEqual(
      GGUF_PARTS.map((part, i) => [`q4/llama-q4_k_m-0000${i + 1}-of-00003.gguf`, part.length, sha256(part)]),
    );
    expect(model.config).toBeUndefined();
  });

  it('names the missing part of a split GGUF', async () => {
    await expect(resolveHubFiles({ repo: 'org/broken-gguf', file: 'm-00001-of-00002.gguf', endpoint: hub.url })).rejects.toThrow(
      'file "m-00002-of-00002.gguf" not found in org/broken-gguf@main',
    );
  });

  it('downloads a resolved file through the CDN redirect', async () => {
    const model = await resolveHubFiles({ repo: 'org/single', revision: 'v1.0', endpoint: hub.url });
    const [weights] = model.weights;
    let received = 0;
    const result = await streamFile({
      url: weights.url,
      expectedSize: weights.size,
      expectedSha256: weights.sha256,
      onChunk: (chunk) => void (received += chunk.length),
    });
    expect(result).toEqual({ size: SINGLE.length, sha256: sha256(SINGLE) });
    expect(received).toBe(SINGLE.length);
  });

  it('explains gated repos (401 without a token, 403 with a refused one) and sends the token as a header', async () => {
    await expect(resolveHubFiles({ repo: 'org/gated', endpoint: hub.url })).rejects.toThrow(
      /gated or private repo: log in and accept the license, then give a token/,
    );
    const refused = await resolveHubFiles({ repo: 'org/gated', endpoint: hub.url, token: 'hf_bad' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HubError);
    expect(refused).toMatchObject({ status: 403 });
    expect((refused as Error).message).not.toContain('hf_bad');
    const model = await resolveHubFiles({ repo: 'org/gated', endpoint: hub.url, token: 'hf_good' });
    expect(model.weights[0].size).toBe(SINGLE.length);
    const gatedRequests = hub.requests.filter((r) => r.path.startsWith('/org/gated/'));
    expect(gatedRequests.some((r) => r.authorization === 'Bearer hf_good')).toBe(true);
    for (const request of hub.requests.concat(cdn.requests)) expect(request.path).not.toContain('hf_');
  });

  it('says which of repo, revision or file is missing', async () => {
    await expect(resolveHubFiles({ repo: 'org/nope', endpoint: hub.url })).rejects.toThrow('repo "org/nope" not found');
    await expect(resolveHubFiles({ repo: 'org/single', revision: 'v9', endpoint: hub.url })).rejects.toThrow(
      'revision "v9" not found in repo "org/single"',
    );
    await expect(resolveHubFiles({ repo: 'org/single', revision: 'v1.0', file: 'other.safetensors', endpoint: hub.url })).rejects.toThrow(
      'file "other.safetensors" not found in org/single@v1.0',
    );
    await expect(resolveHubFiles({ repo: 'org/empty', endpoint: hub.url })).rejects.toThrow(
      'org/empty@main has neither model.safetensors.index.json nor model.safetensors',
    );
  });

  it('refuses bad names and unreachable endpoints clearly', async () => {
    await expect(resolveHubFiles({ repo: 'not a repo', endpoint: hub.url })).rejects.toThrow(/is not a Hub repo name/);
    await expect(resolveHubFiles({ repo: 'org/single', file: '../x.safetensors', endpoint: hub.url })).rejects.toThrow(/not a file path/);
    await expect(resolveHubFiles({ repo: 'org/single', file: 'x.bin', endpoint: hub.url })).rejects.toThrow(/expected a .gguf/);
    const failing: typeof fetch = () => Promise.reject(new TypeError('fetch failed'));
    await expect(resolveHubFiles({ repo: 'org/single', endpoint: hub.url, fetch: failing })).rejects.toThrow(/could not reach .* \(offline\?\)/);
  });
});
