// Reads GGUF headers (v2/v3, little-endian) with @huggingface/gguf, from bytes in memory or from any source
// that serves byte ranges (a File, an HTTP range reader). No Node APIs: this runs in the browser.
import { gguf } from '@huggingface/gguf';
import { type GgmlType, dequantize } from '../../engine/ggml';
import { scanGgufHeader } from '../validate-gguf';

/** Metadata values as @huggingface/gguf returns them: uint64/int64 as bigint, arrays as JS arrays. */
export type GgufMetadataValue = string | number | bigint | boolean | GgufMetadataValue[];
export type GgufMetadata = Record<string, GgufMetadataValue>;

export interface GgufTensorInfo {
  name: string;
  type: GgmlType;
  /** GGUF order: shape[0] (ne[0]) is the row length. */
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
}

export interface GgufHeader {
  version: 2 | 3;
  metadata: GgufMetadata;
  /** In file order. */
  tensorInfos: GgufTensorInfo[];
  /** Each metadata key's GGUF type ('uint32', 'float32', 'string', 'array<string>', ...). */
  metadataTypes: Record<string, string>;
  /** Absolute byte offset of the data section. */
  dataOffset: number;
  alignment: number;
  fileSize: number;
}

/** A file read in pieces: `read(begin, end)` returns bytes [begin, end), clipped to the file's end. */
export interface GgufRangeSource {
  size: number;
  read(begin: number, end: number): Promise<Uint8Array>;
}

function fail(message: string): never {
  throw new Error(`GGUF: ${message}`);
}

/** A range source over a Blob or File (the browser's file picker, drag and drop). */
export function blobRangeSource(blob: Blob): GgufRangeSource {
  return {
    size: blob.size,
    read: async (begin, end) => new Uint8Array(await blob.slice(begin, end).arrayBuffer()),
  };
}

export function bytesRangeSource(bytes: Uint8Array): GgufRangeSource {
  return { size: bytes.length, read: async (begin, end) => bytes.subarray(begin, Math.min(end, bytes.length)) };
}

/**
 * A fetch for @huggingface/gguf that answers its HTTP range requests from `source`. Its URL is never
 * contacted; it only has to look like http(s) so that the library takes the range-request path.
 */
function rangeFetch(source: GgufRangeSource): typeof fetch {
  return async (_input, init) => {
    const range = new Headers(init?.headers).get('Range') ?? '';
    const match = /^bytes=(\d+)-(\d+)$/.exec(range);
    if (!match) throw new Error(`GGUF: unexpected range request ${JSON.stringify(range)}`);
    const begin = Math.min(Number(match[1]), source.size);
    const end = Math.min(Number(match[2]) + 1, source.size);
    const body = begin < end ? await source.read(begin, end) : new Uint8Array(0);
    // Copy into a fresh ArrayBuffer: the body may be a view of a larger buffer.
    return new Response(body.slice(), {
      status: 206,
      headers: { 'Content-Range': `bytes ${begin}-${Math.max(begin, end - 1)}/${source.size}` },
    });
  };
}

const SOURCE_URL = 'https://local.invalid/model.gguf';

function checkMagicAndVersion(first8: Uint8Array, size: number): 2 | 3 {
  if (size < 8 || first8.length < 8) fail(`not a GGUF file (${size} bytes, too short for a header)`);
  const magic = String.fromCharCode(...first8.subarray(0, 4));
  if (magic !== 'GGUF') fail(`not a GGUF file (it starts with ${JSON.stringify(magic)}, not "GGUF")`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const version = view.getUint32(4, true);
  if ((version & 0xffff) === 0 && version !== 0) fail('big-endian GGUF files are not supported');
  if (version !== 2 && version !== 3) fail(`GGUF version ${version} is not supported (supported: 2, 3)`);
  return version;
}

/**
 * Parses the header (metadata and tensor infos). Its structure is checked first (scanGgufHeader: every count,
 * length and type against the bytes left and the bounds, the tensors filling the data section exactly), so
 * @huggingface/gguf only ever reads a well-formed header.
 */
export async function parseGgufHeader(source: Uint8Array | GgufRangeSource): Promise<GgufHeader> {
  const ranged = source instanceof Uint8Array ? bytesRangeSource(source) : source;
  const fileSize = ranged.size;
  const version = checkMagicAndVersion(await ranged.read(0, Math.min(8, fileSize)), fileSize);
  const scan = await scanGgufHeader(ranged, version);

  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf(SOURCE_URL, { fetch: rangeFetch(ranged) });
  } catch (error) {
    fail(`cannot parse the header: ${(error as Error).message}`);
  }
  if (parsed.tensorInfoByteRange[1] !== scan.headerEnd || parsed.tensorInfos.length !== scan.tensors.length) {
    fail(`the header reads differently in @huggingface/gguf (tensor infos end at byte ${parsed.tensorInfoByteRange[1]}, not ${scan.headerEnd})`);
  }

  const metadata: GgufMetadata = {};
  for (const [key, value] of Object.entries(parsed.metadata)) {
    if (key === 'version' || key === 'tensor_count' || key === 'kv_count') continue;
    metadata[key] = value as GgufMetadataValue;
  }
  const tensorInfos: GgufTensorInfo[] = scan.tensors.map((t) => ({
    name: t.name,
    type: t.type,
    shape: t.shape,
    offset: scan.dataOffset + t.offset,
    byteLength: t.byteLength,
  }));
  return { version, metadata, metadataTypes: scan.types, tensorInfos, dataOffset: scan.dataOffset, alignment: scan.alignment, fileSize };
}

/** A tensor's encoded bytes, read from the source (for streamed files: one range read). */
export async function readGgufTensorBytes(source: Uint8Array | GgufRangeSource, info: GgufTensorInfo): Promise<Uint8Array> {
  const ranged = source instanceof Uint8Array ? bytesRangeSource(source) : source;
  const bytes = await ranged.read(info.offset, info.offset + info.byteLength);
  if (bytes.length !== info.byteLength) fail(`truncated file: tensor ${info.name} could not be read whole`);
  return bytes;
}

/** A tensor dequantized to float32, read from the source; e.g. rope_freqs.weight for specFromGguf. */
export async function readGgufTensor(source: Uint8Array | GgufRangeSource, info: GgufTensorInfo): Promise<Float32Array> {
  const elements = info.shape.reduce((a, b) => a * b, 1);
  return dequantize(info.type, await readGgufTensorBytes(source, info), elements);
}

export interface GgufFile {
  header: GgufHeader;
  has(name: string): boolean;
  /** Info of a tensor; throws naming it when absent. */
  info(name: string): GgufTensorInfo;
  /** The tensor's encoded bytes (a view into the file). */
  tensorBytes(name: string): Uint8Array;
  /**
   * The tensor dequantized to float32 (a fresh array), as stored: ne[0] fastest, and attn_q/attn_k rows in
   * llama.cpp's order (see unpermuteQkRows in ./spec).
   */
  tensor(name: string): Float32Array;
}

/** Reads a whole GGUF file held in memory. */
export async function readGguf(bytes: Uint8Array): Promise<GgufFile> {
  const header = await parseGgufHeader(bytes);
  const byName = new Map(header.tensorInfos.map((info) => [info.name, info]));
  const info = (name: string): GgufTensorInfo => byName.get(name) ?? fail(`no tensor named "${name}"`);
  const bytesOf = (name: string): Uint8Array => {
    const { offset, byteLength } = info(name);
    return bytes.subarray(offset, offset + byteLength);
  };
  return {
    header,
    has: (name) => byName.has(name),
    info,
    tensorBytes: bytesOf,
    tensor: (name) => {
      const { type, shape } = info(name);
      return dequantize(type, bytesOf(name), shape.reduce((a, b) => a * b, 1));
    },
  };
}
