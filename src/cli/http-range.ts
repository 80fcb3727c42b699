// Files read over HTTP with Range requests (Node's fetch), for the CLIs that read only a model's headers.
import type { GgufRangeSource } from '../model/gguf/reader';
import { errorMessage } from '../util/errors';

/** A request gives up when the server sends nothing for this long, so that a stalled server cannot hang a command. */
export const HTTP_IDLE_TIMEOUT_MS = 30_000;

class HttpStatusError extends Error {}

/**
 * GETs `url` and reads its body. `check` sees the response first and may refuse it (the body is then not read);
 * errors name the URL and `what` (a byte range).
 */
async function fetchBytes(url: string, headers: Record<string, string>, what: string, check: (response: Response) => void): Promise<{ response: Response; bytes: Uint8Array }> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), HTTP_IDLE_TIMEOUT_MS);
  };
  idle();
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    check(response);
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of response.body ?? []) {
      idle();
      chunks.push(chunk);
      length += chunk.length;
    }
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return { response, bytes };
  } catch (error) {
    if (error instanceof HttpStatusError) throw new Error(error.message);
    const why = controller.signal.aborted ? `the server sent nothing for ${HTTP_IDLE_TIMEOUT_MS / 1000} s` : errorMessage(error);
    throw new Error(`${url}${what}: ${why}`, { cause: error });
  } finally {
    clearTimeout(timer);
    controller.abort(); // a refused response's body is not downloaded
  }
}

/** A file read with HTTP Range requests; refused when the server does not answer them. */
export async function httpRangeSource(url: string): Promise<GgufRangeSource> {
  const { response } = await fetchBytes(url, { Range: 'bytes=0-0' }, '', (probe) => {
    if (probe.status === 404) throw new HttpStatusError(`${url}: not found (HTTP 404)`);
    if (probe.status !== 206) throw new HttpStatusError(`${url}: the server does not answer range requests (HTTP ${probe.status}); download the file and pass its path`);
  });
  const size = Number(/\/(\d+)\s*$/.exec(response.headers.get('content-range') ?? '')?.[1]);
  if (!Number.isFinite(size)) throw new Error(`${url}: the server's range answer does not give the file's size (Content-Range: ${response.headers.get('content-range')})`);
  return {
    size,
    read: async (begin, end) => {
      const last = Math.min(end, size) - 1;
      if (last < begin) return new Uint8Array(0);
      const range = `bytes=${begin}-${last}`;
      const { bytes } = await fetchBytes(url, { Range: range }, ` (${range})`, (answer) => {
        if (answer.status !== 206) throw new HttpStatusError(`${url}: range ${begin}-${last} answered HTTP ${answer.status}`);
      });
      return bytes;
    },
  };
}

/** A small file (JSON) read whole, or null when the server answers 404. */
export async function httpFile(url: string): Promise<Uint8Array | null> {
  let missing = false;
  const { bytes } = await fetchBytes(url, {}, '', (response) => {
    missing = response.status === 404;
    if (!missing && !response.ok) throw new HttpStatusError(`${url}: HTTP ${response.status}`);
  });
  return missing ? null : bytes;
}
