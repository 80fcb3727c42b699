// Files read over HTTP with Range requests (Node's fetch), for the CLIs that read only a model's headers.
import type { GgufRangeSource } from '../model/gguf/reader';

/** Each request gives up after this long, so that a server that stalls cannot hang a command. */
export const HTTP_TIMEOUT_MS = 30_000;

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  try {
    return await fetch(url, { headers, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (error) {
    throw new Error(`${url}: ${(error as Error).name === 'TimeoutError' ? `no answer within ${HTTP_TIMEOUT_MS / 1000} s` : (error as Error).message}`);
  }
}

/** A file read with HTTP Range requests; refused when the server does not answer them. */
export async function httpRangeSource(url: string): Promise<GgufRangeSource> {
  const probe = await get(url, { Range: 'bytes=0-0' });
  await probe.arrayBuffer();
  const size = Number(/\/(\d+)\s*$/.exec(probe.headers.get('content-range') ?? '')?.[1]);
  if (probe.status === 404) throw new Error(`${url}: not found (HTTP 404)`);
  if (probe.status !== 206 || !Number.isFinite(size)) {
    throw new Error(`${url}: the server does not answer range requests (HTTP ${probe.status}); download the file and pass its path`);
  }
  return {
    size,
    read: async (begin, end) => {
      const last = Math.min(end, size) - 1;
      if (last < begin) return new Uint8Array(0);
      const response = await get(url, { Range: `bytes=${begin}-${last}` });
      if (response.status !== 206) throw new Error(`${url}: range ${begin}-${last} answered HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** A small file (JSON) read whole, or null when the server answers 404. */
export async function httpFile(url: string): Promise<Uint8Array | null> {
  const response = await get(url);
  if (response.status === 404) {
    await response.arrayBuffer().catch(() => null);
    return null;
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
