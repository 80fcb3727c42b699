// A small HTTP file server on 127.0.0.1 for the model-source tests: byte ranges, redirects, tokens, dropped
// connections, slow bodies and a fake Hugging Face Hub. CORS is open so that pages on another origin can read
// it. It stops by itself after `maxRequests` requests or `lifetimeMs`.
// Also the vitest globalSetup of the `gpu` project (the default export), which provides its URLs to tests.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { fixtureGguf, fixtureSafetensorsFolder, fixtureShardedFolder, fixtureSplitGguf } from '../src/model/sources/library.testing';
import { fixtureBytes, fixtureSafetensors } from '../src/model/sources/files.testing';

export interface Route {
  body?: Uint8Array | string;
  /** Default 200 (206 for ranges). */
  status?: number;
  headers?: Record<string, string>;
  /** Answer `Range` requests with 206; false serves the whole body with 200 as if Range were unknown. */
  ranges?: boolean;
  /** Requests without a Range header (fresh downloads) lose their connection after this many body bytes. */
  dropAfterBytes?: number;
  /** Drop requests with a Range header too (a connection that always fails). */
  dropAlways?: boolean;
  /** Stall this long before dropping (Chromium may discard bytes it has not yet handed to the page). */
  dropDelayMs?: number;
  /** Answer 302 to this URL. */
  redirectTo?: string;
  /** Only `Authorization: Bearer <token>` may read: 401 without a token, 403 with another. */
  token?: string;
  /** Send the body in pieces of this size, `delayMs` apart (for cancelling mid-way). */
  pieceBytes?: number;
  delayMs?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export interface FileServer {
  url: string;
  routes: Map<string, Route>;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

export interface FileServerOptions {
  /** Route for paths without one (default: 404). */
  fallback?: (path: string) => Route;
  maxRequests?: number;
  lifetimeMs?: number;
  /** Serve the request log as JSON at this path (for tests in a browser, which cannot see the server). */
  logPath?: string;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Authorization, Range',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-expose-headers':
    'Content-Range, Content-Length, Accept-Ranges, ETag, X-Linked-Size, X-Linked-Etag, X-Error-Code, X-Error-Message',
};

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | null {
  if (!header) return null;
  const match = header.match(/^bytes=(\d+)-(\d*)$/);
  if (!match) return 'invalid';
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

function sendBody(res: ServerResponse, body: Uint8Array, route: Route, drop: boolean): void {
  const dropAt = drop && route.dropAfterBytes !== undefined ? Math.min(route.dropAfterBytes, body.length) : -1;
  const piece = route.pieceBytes ?? body.length;
  let position = 0;
  const next = () => {
    if (res.destroyed) return;
    if (dropAt >= 0 && position >= dropAt) {
      // Mid-body: the client sees the connection end before Content-Length bytes.
      if (route.dropDelayMs) setTimeout(() => res.destroy(), route.dropDelayMs);
      else res.destroy();
      return;
    }
    if (position >= body.length) {
      res.end();
      return;
    }
    const stop = Math.min(body.length, position + Math.max(1, piece), dropAt >= 0 ? dropAt : body.length);
    const part = body.subarray(position, stop);
    position = stop;
    res.write(part, () => {
      if (route.delayMs) setTimeout(next, route.delayMs);
      else next();
    });
  };
  next();
}

function handle(req: IncomingMessage, res: ServerResponse, route: Route | undefined): void {
  for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
  if (req.method === 'OPTIONS') {
    res.writeHead(204).end();
    return;
  }
  if (!route) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  if (route.token !== undefined) {
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${route.token}`) {
      res.writeHead(auth ? 403 : 401, { 'x-error-code': 'GatedRepo', 'content-type': 'text/plain' }).end('gated');
      return;
    }
  }
  if (route.redirectTo) {
    res.writeHead(route.status ?? 302, { ...route.headers, location: route.redirectTo }).end();
    return;
  }
  const body = typeof route.body === 'string' ? new TextEncoder().encode(route.body) : (route.body ?? new Uint8Array());
  const status = route.status ?? 200;
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...route.headers };
  const range = route.ranges === false || status !== 200 ? null : parseRange(req.headers.range, body.length);
  if (range === 'invalid') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${body.length}` }).end();
    return;
  }
  const part = range ? body.subarray(range.start, range.end + 1) : body;
  res.writeHead(range ? 206 : status, {
    ...headers,
    'accept-ranges': route.ranges === false ? 'none' : 'bytes',
    'content-length': String(part.length),
    ...(range && { 'content-range': `bytes ${range.start}-${range.end}/${body.length}` }),
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  sendBody(res, part, route, !req.headers.range || route.dropAlways === true);
}

export async function startFileServer(routes: Record<string, Route>, options: FileServerOptions = {}): Promise<FileServer> {
  const maxRequests = options.maxRequests ?? 1000;
  const routeMap = new Map(Object.entries(routes));
  const requests: LoggedRequest[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    requests.push({ method: req.method ?? 'GET', path, range: req.headers.range, authorization: req.headers.authorization });
    if (requests.length > maxRequests) {
      res.writeHead(503).end('request limit reached');
      void close();
      return;
    }
    if (path === options.logPath) {
      handle(req, res, { body: JSON.stringify(requests), headers: { 'content-type': 'application/json' } });
      return;
    }
    handle(req, res, routeMap.get(path) ?? options.fallback?.(path));
  });
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      clearTimeout(lifetime);
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  const lifetime = setTimeout(() => void close(), options.lifetimeMs ?? 120_000);
  lifetime.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, routes: routeMap, requests, close };
}

export interface FakeHubRepo {
  repo: string;
  revision?: string;
  files: Record<string, Uint8Array | string>;
  /** Files served like LFS files: a 302 to the CDN with x-linked-size and x-linked-etag (sha256). */
  lfs?: (path: string) => boolean;
  /** A gated repo: only this token may read. */
  token?: string;
}

/**
 * Routes of a Hub holding `repos` (`/{repo}/resolve/{revision}/{path}`) and of its CDN (`/lfs/{sha256}`, to
 * serve from another server at `cdnUrl`), with the Hub's X-Error-Code answers for what is missing.
 */
export function fakeHubRoutes(repos: FakeHubRepo[], cdnUrl: string) {
  const hub: Record<string, Route> = {};
  const cdn: Record<string, Route> = {};
  const isLfs = (path: string) => /\.(safetensors|gguf|bin)$/.test(path);
  for (const { repo, revision = 'main', files, lfs = isLfs, token } of repos) {
    for (const [path, content] of Object.entries(files)) {
      const body = typeof content === 'string' ? new TextEncoder().encode(content) : content;
      const key = `/${repo}/resolve/${revision}/${path}`;
      if (lfs(path)) {
        const sha256 = createHash('sha256').update(body).digest('hex');
        cdn[`/lfs/${sha256}`] = { body };
        hub[key] = {
          token,
          redirectTo: `${cdnUrl}/lfs/${sha256}?signature=not-a-secret`,
          headers: { 'x-linked-size': String(body.length), 'x-linked-etag': `"${sha256}"`, etag: `"${sha256}"` },
        };
      } else {
        const sha1 = createHash('sha1').update(body).digest('hex');
        hub[key] = { token, body, headers: { etag: `"${sha1}"` } };
      }
    }
  }
  const fallback = (path: string): Route => {
    const repo = repos.find((r) => path.startsWith(`/${r.repo}/resolve/`));
    const code = !repo
      ? 'RepoNotFound'
      : !path.startsWith(`/${repo.repo}/resolve/${repo.revision ?? 'main'}/`)
        ? 'RevisionNotFound'
        : 'EntryNotFound';
    // Like the Hub: a gated repo answers 401 before saying what exists.
    if (repo?.token !== undefined) return { token: repo.token, status: 404, headers: { 'x-error-code': code } };
    return { status: 404, headers: { 'x-error-code': code }, body: code };
  };
  return { hub, cdn, fallback };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test file server of the `gpu` project (see e2e/file-server.ts); its request log is at /__requests. */
    fileServerUrl: string;
    /** A fake Hub on that server, and its CDN on a second one. */
    fakeHubUrl: string;
    /** A URL on a port where nothing listens: "the network is off". */
    deadUrl: string;
    /** The only token that reads the fake Hub's `test-org/manyicl-tiny-gated` (the embedded model), for the leak test. */
    canaryHubToken: string;
  }
}

/** The model files that the browser tests download. */
export function browserTestRoutes(): Record<string, Route> {
  const model = fixtureSafetensors();
  return {
    '/model.safetensors': { body: model },
    '/flaky/model.safetensors': { body: model, dropAfterBytes: 100_000, dropDelayMs: 300 },
    '/no-ranges/model.safetensors': { body: model, ranges: false, dropAfterBytes: 50_000, dropDelayMs: 300 },
    '/slow.bin': { body: fixtureBytes(400_000, 3), pieceBytes: 16_384, delayMs: 20 },
  };
}

/** Model folders for the model library's tests (src/model/sources/library.browser.test.ts), under /library. */
export function libraryTestRoutes(): Record<string, Route> {
  const routes: Record<string, Route> = { '/library/tiny.gguf': { body: fixtureGguf(11) } };
  const folder = (prefix: string, files: Record<string, Uint8Array | string>, weights: Partial<Route> = {}) => {
    for (const [name, body] of Object.entries(files)) {
      routes[`/library/${prefix}/${name}`] = { body, ...(/\.(safetensors|gguf)$/.test(name) && weights) };
    }
  };
  folder('split', fixtureSplitGguf());
  folder('safetensors', fixtureSafetensorsFolder(12));
  folder('sharded', fixtureShardedFolder());
  folder('flaky', fixtureSafetensorsFolder(13), { dropAfterBytes: 100_000, dropDelayMs: 300 });
  folder('slow', fixtureSafetensorsFolder(14), { pieceBytes: 16_384, delayMs: 30 });
  return routes;
}

/** Hub repos for the model library's tests; `test-org/library-bad-sha` announces a wrong sha256. */
const LIBRARY_HUB_REPOS: FakeHubRepo[] = [
  { repo: 'test-org/library-model', files: fixtureSafetensorsFolder(15) },
  { repo: 'test-org/library-gguf', revision: 'v1', files: { 'gguf/tiny.Q8_0.gguf': fixtureGguf(16) } },
  { repo: 'test-org/library-gated', files: { 'gated.gguf': fixtureGguf(17) }, token: 'hf_library_test' },
  { repo: 'test-org/library-bad-sha', files: { 'bad.gguf': fixtureGguf(18) } },
];

/** A recognisable token: src/store/token-leak.browser.test.ts looks for it everywhere the app stores or writes. */
const CANARY_HUB_TOKEN = 'hf_CanaryLeakCheck9f3b27c1d8e4a6';

/** The embedded model, gated behind the canary token: a real model, so that exports can be made of it. */
function canaryRepo(): FakeHubRepo {
  const dir = new URL('../public/models/manyicl-tiny/', import.meta.url);
  const names = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
  const files = Object.fromEntries(names.map((name) => [name, new Uint8Array(readFileSync(new URL(name, dir)))]));
  return { repo: 'test-org/manyicl-tiny-gated', files, token: CANARY_HUB_TOKEN };
}

/** Gives an LFS file a wrong sha256 on the Hub's redirect (seen in Node) and on the CDN (seen in browsers). */
function announceWrongSha256(hubRoute: Route, cdnRoutes: Record<string, Route>): void {
  const wrong = `"${'0'.repeat(64)}"`;
  hubRoute.headers = { ...hubRoute.headers, 'x-linked-etag': wrong, etag: wrong };
  const cdnRoute = cdnRoutes[new URL(hubRoute.redirectTo as string).pathname];
  cdnRoute.headers = { ...cdnRoute.headers, etag: wrong };
}

/** A port that was free a moment ago and is closed now. */
async function deadPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** vitest globalSetup: starts the servers for the browser tests and stops them afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lifetimeMs = 30 * 60_000;
  const cdn = await startFileServer({}, { lifetimeMs });
  const hubRoutes = fakeHubRoutes(
    [
      {
        repo: 'test-org/tiny-model',
        files: { 'model.safetensors': fixtureSafetensors(), 'config.json': '{"model_type":"llama"}' },
      },
      { repo: 'test-org/gated-model', files: { 'model.safetensors': fixtureSafetensors(8) }, token: 'hf_browser_test' },
      ...LIBRARY_HUB_REPOS,
      canaryRepo(),
    ],
    cdn.url,
  );
  announceWrongSha256(hubRoutes.hub['/test-org/library-bad-sha/resolve/main/bad.gguf'], hubRoutes.cdn);
  for (const [path, route] of Object.entries(hubRoutes.cdn)) cdn.routes.set(path, route);
  const files = await startFileServer({ ...browserTestRoutes(), ...libraryTestRoutes(), ...prefixRoutes('/hub', hubRoutes.hub) }, {
    lifetimeMs,
    logPath: '/__requests',
    fallback: (path) => (path.startsWith('/hub/') ? hubRoutes.fallback(path.slice(4)) : { status: 404, body: 'not found' }),
  });
  project.provide('fileServerUrl', files.url);
  project.provide('fakeHubUrl', `${files.url}/hub`);
  project.provide('deadUrl', await deadPortUrl());
  project.provide('canaryHubToken', CANARY_HUB_TOKEN);
  return async () => {
    await Promise.all([files.close(), cdn.close()]);
  };
}

function prefixRoutes(prefix: string, routes: Record<string, Route>): Record<string, Route> {
  return Object.fromEntries(Object.entries(routes).map(([path, route]) => [prefix + path, route]));
}
