// PEFT adapters brought into the app: chosen files (the two files, or a zip), a URL (a folder URL ending in /
// or a .zip), or a Hub repo. The files are small; they are read whole, then checked against the base model.
import type { ModelSpec } from '../engine/spec';
import { describeHttpStatus } from '../model/sources/download';
import { HUB_ENDPOINT, hubFileUrl } from '../model/sources/hub';
import { errorMessage } from '../util/errors';
import type { HostAdapter } from './adapter';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter, unzipFiles } from './peft';

export type AdapterSource =
  | { kind: 'files'; files: { name: string; bytes: Uint8Array }[] }
  | { kind: 'url'; url: string }
  | { kind: 'hub'; repo: string; revision?: string; token?: string; endpoint?: string };

export interface ImportedAdapter {
  adapter: HostAdapter;
  /** What the user sees: the zip's or folder's name, the URL, or the repo. */
  name: string;
  /** base_model_name_or_path from adapter_config.json, when set. */
  baseModel: string | null;
}

const isZip = (bytes: Uint8Array) => bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;

/** `shown` is what messages say: the URL without its query or credentials. */
async function fetchBytes(url: string, headers: Record<string, string>, fetchFn: typeof fetch, shown = url): Promise<Uint8Array | undefined> {
  let response: Response;
  try {
    response = await fetchFn(url, { headers });
  } catch (error) {
    throw new Error(`could not fetch ${shown}: ${errorMessage(error)} (offline, or the server does not allow cross-origin requests?)`);
  }
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(describeHttpStatus(response.status, shown, 'Authorization' in headers));
  return new Uint8Array(await response.arrayBuffer());
}

/** The adapter's files by name, and what to call the source. */
async function adapterFiles(source: AdapterSource, fetchFn: typeof fetch): Promise<{ name: string; files: Map<string, Uint8Array> }> {
  if (source.kind === 'files') {
    if (source.files.length === 0) throw new Error('choose adapter_config.json and adapter_model.safetensors, or a .zip of them');
    const zip = source.files.find((f) => isZip(f.bytes));
    if (zip) return { name: zip.name, files: unzipFiles(zip.bytes, zip.name) };
    const files = new Map(source.files.map((f) => [f.name.slice(f.name.lastIndexOf('/') + 1), f.bytes]));
    const weights = source.files.find((f) => f.name.endsWith('.safetensors'));
    return { name: weights?.name ?? source.files[0].name, files };
  }
  const fetchFolder = async (name: string, url: (file: string) => string, headers: Record<string, string>) => {
    const files = new Map<string, Uint8Array>();
    for (const file of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) {
      const bytes = await fetchBytes(url(file), headers, fetchFn);
      if (!bytes) throw new Error(`${name}: no ${file} at ${url(file)} (HTTP 404)`);
      files.set(file, bytes);
    }
    return { name, files };
  };
  if (source.kind === 'url') {
    let url: URL;
    try {
      url = new URL(source.url);
    } catch {
      throw new Error(`"${source.url}" is not a URL`);
    }
    // A signed URL's query (or user:password@) is a credential: it is fetched with, never shown or stored.
    const shown = url.origin + url.pathname;
    if (url.pathname.endsWith('/')) return fetchFolder(shown, (file) => new URL(file, url).href, {});
    const bytes = await fetchBytes(url.href, {}, fetchFn, shown);
    if (!bytes) throw new Error(`${shown}: HTTP 404 (not found)`);
    if (!isZip(bytes)) throw new Error(`${shown}: not a zip file; give a .zip of the adapter, or the folder URL ending in /`);
    return { name: shown, files: unzipFiles(bytes, shown) };
  }
  const repo = source.repo.trim();
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new Error(`"${source.repo}" is not a Hub repo id (owner/name)`);
  const headers: Record<string, string> = source.token ? { Authorization: `Bearer ${source.token}` } : {};
  const endpoint = source.endpoint ?? HUB_ENDPOINT;
  return fetchFolder(repo, (file) => hubFileUrl(endpoint, repo, source.revision ?? 'main', file), headers);
}

/** Reads a PEFT adapter from `source` and checks that it fits `spec` (targets, shapes, rank). */
export async function importAdapter(source: AdapterSource, spec: ModelSpec, fetchFn: typeof fetch = fetch): Promise<ImportedAdapter> {
  const { name, files } = await adapterFiles(source, fetchFn);
  const adapter = readPeftAdapter((file) => files.get(file), spec, name);
  const config = JSON.parse(new TextDecoder().decode(files.get(ADAPTER_CONFIG))) as { base_model_name_or_path?: unknown };
  return { adapter, name, baseModel: typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : null };
}
