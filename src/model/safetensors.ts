// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data section.
// Offsets are relative to the data section, which starts at 8 + N. All values are little-endian.

export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** The dtypes `tensor()` converts to float32. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets into the data section, end exclusive. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** In data order (by begin offset). */
  tensors: Map<string, SafetensorsTensorInfo>;
  metadata: Record<string, string>;
  /** Absolute byte offset where the data section starts (8 + header length). */
  dataOffset: number;
}

/** The safetensors reference implementation refuses headers over 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The JSON header's length N, from the file's first 8 bytes. The header occupies bytes [8, 8 + N) and the
 * data section starts at 8 + N, so a streaming loader reads 8 bytes, then N more, then parses.
 */
export function headerByteLength(first8: Uint8Array): number {
  if (first8.length < 8) fail(`not a safetensors file: ${first8.length} bytes, need at least 8 for the header length`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length < 2n || length > BigInt(MAX_HEADER_BYTES)) {
    fail(`not a safetensors file: header length ${length} is outside 2..${MAX_HEADER_BYTES}`);
  }
  return Number(length);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The dtypes a model's weights may have, on every path (the app, the CLI, exports): what the GPU loader reads. */
export const MODEL_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16'];

function parseTensorEntry(name: string, entry: unknown): SafetensorsTensorInfo {
  if (!isPlainObject(entry)) fail(`tensor "${name}": entry is not an object`);
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!(field in entry)) fail(`tensor "${name}": no "${field}" field (each tensor needs dtype, shape and data_offsets)`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)} (safetensors dtypes: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const info: SafetensorsTensorInfo = {
    name,
    dtype: dtype as SafetensorsDtype,
    shape: shape as number[],
    begin: offsets[0],
    end: offsets[1],
  };
  const elements = info.shape.reduce((a, b) => a * b, 1);
  const expectedBytes = elements * DTYPE_BYTES[info.dtype];
  if (!Number.isSafeInteger(expectedBytes)) fail(`tensor "${name}": shape ${JSON.stringify(info.shape)} has more values than any file can hold`);
  if (info.end - info.begin !== expectedBytes) {
    fail(
      `tensor "${name}": data_offsets [${info.begin}, ${info.end}] hold ${info.end - info.begin} bytes, ` +
        `but ${info.dtype} ${JSON.stringify(info.shape)} needs ${expectedBytes}`,
    );
  }
  return info;
}

/**
 * The first key that appears twice at the top level of a valid JSON text, or null. JSON.parse keeps the last
 * of duplicates without a word, so two tensors of one name would pass; this walk over the text finds them.
 */
function duplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1 && c === '{';
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}

/** Why a header is not JSON; when a shorter length would make it JSON, says that the length is wrong. */
function jsonProblem(text: string, error: unknown, headerLength: number): string {
  const end = text.lastIndexOf('}');
  if (end > 0 && end < text.trimEnd().length - 1) {
    try {
      JSON.parse(text.slice(0, end + 1));
      return `the header length ${headerLength} is wrong: the JSON header ends after ${end + 1} bytes, and the bytes after it are not spaces`;
    } catch {
      // not that
    }
  }
  const short = /end of JSON|Unterminated|Unexpected end/i.test((error as Error).message) ? `; the header length ${headerLength} may be too small` : '';
  return `not a safetensors file: the header is not valid JSON (${(error as Error).message})${short}`;
}

/**
 * Parses and validates the header. `bytes` must hold at least the first 8 + N bytes of the file.
 * `fileSize` (default: bytes.length) is the whole file's size, used to check that the tensors fill the data
 * section exactly, as the safetensors reference implementation requires: in offset order, each begins where
 * the one before ends, and the last ends at the end of the file. A streaming loader that passes just the
 * header bytes must pass the real size.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number = bytes.length): SafetensorsHeader {
  const headerLength = headerByteLength(bytes);
  const dataOffset = 8 + headerLength;
  if (fileSize < dataOffset) fail(`truncated: header says ${headerLength} bytes of JSON, file has ${fileSize} bytes`);
  if (bytes.length < dataOffset) {
    fail(`need the first ${dataOffset} bytes to parse the header, got ${bytes.length}`);
  }
  const headerBytes = bytes.subarray(8, dataOffset);
  if (headerBytes[0] !== 0x7b /* '{' */) fail('not a safetensors file: the header does not start with "{"');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch (error) {
    fail(jsonProblem(new TextDecoder().decode(headerBytes), error, headerLength).replace('is not valid JSON', 'is not UTF-8 text'));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(jsonProblem(text, e, headerLength));
  }
  if (!isPlainObject(json)) fail('not a safetensors file: the header is not a JSON object');
  const duplicate = duplicateTopLevelKey(text);
  if (duplicate !== null) fail(`the header names "${duplicate}" twice`);

  const metadata: Record<string, string> = {};
  const infos: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) fail('__metadata__ is not an object');
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') fail(`__metadata__ "${key}" is not a string`);
        metadata[key] = value;
      }
      continue;
    }
    infos.push(parseTensorEntry(name, entry));
  }

  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataSize = fileSize - dataOffset;
  let previous: SafetensorsTensorInfo | null = null;
  for (const info of infos) {
    const end = previous?.end ?? 0;
    if (previous && info.begin < end) {
      fail(
        `tensor "${info.name}" [${info.begin}, ${info.end}] overlaps tensor "${previous.name}" ` +
          `[${previous.begin}, ${previous.end}]`,
      );
    }
    if (info.end > dataSize) {
      fail(
        `truncated: tensor "${info.name}" ends at data byte ${info.end}, but the data section has ` +
          `${dataSize} bytes`,
      );
    }
    if (info.begin > end) {
      fail(`data bytes ${end}..${info.begin} belong to no tensor (before tensor "${info.name}"); tensors must fill the data section`);
    }
    previous = info;
  }
  const covered = previous?.end ?? 0;
  if (covered !== dataSize) {
    fail(
      `the data section (from byte ${dataOffset}, after the header length ${headerLength}) has ${dataSize} bytes, but its tensors ` +
        `cover ${covered}: the header length or the data_offsets are wrong, or bytes were added to the file`,
    );
  }
  return { tensors: new Map(infos.map((info) => [info.name, info])), metadata, dataOffset };
}

let f16Table: Float32Array | null = null;

/** float32 value of every float16 bit pattern (256 KB, built once). */
function float16Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[bits] = mantissa ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  f16Table = table;
  return table;
}

/** Converts raw little-endian F32/F16/BF16/F64 data to float32. Always returns a fresh array. */
export function decodeToFloat32(dtype: SafetensorsDtype, data: Uint8Array): Float32Array {
  if (!hostIsLittleEndian) fail('big-endian hosts are not supported');
  const bytesPerElement = DTYPE_BYTES[dtype];
  if (data.length % bytesPerElement !== 0) fail(`${data.length} bytes is not a whole number of ${dtype} values`);
  const count = data.length / bytesPerElement;
  // Copy first: the source may not be aligned for a typed-array view. (Uint8Array.prototype.slice, not
  // the method of a Node Buffer, whose slice is a view into a shared pool.)
  const aligned = Uint8Array.prototype.slice.call(data).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned);
    case 'F64':
      return Float32Array.from(new Float64Array(aligned));
    case 'F16': {
      const halves = new Uint16Array(aligned);
      const table = float16Table();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i]];
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const halves = new Uint16Array(aligned);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = halves[i] << 16;
      return out;
    }
    default:
      return fail(`cannot convert ${dtype} to float32 (supported: ${FLOAT_DTYPES.join(', ')})`);
  }
}

export interface SafetensorsFile {
  header: SafetensorsHeader;
  has(name: string): boolean;
  /** Info of a tensor; throws naming it when absent. */
  info(name: string): SafetensorsTensorInfo;
  /** The tensor as float32 (a fresh copy), converted from F32/F16/BF16/F64. */
  tensor(name: string): Float32Array;
  /** The tensor's raw bytes (a view into the file, not a copy). */
  tensorBytes(name: string): Uint8Array;
}

/** Reads a whole safetensors file held in memory. */
/** Name -> { shape, data as f32 }, or undefined for a name the file lacks (the engine's TensorLookup). */
export function tensorsOf(file: SafetensorsFile): (name: string) => { shape: number[]; data: Float32Array } | undefined {
  return (name) => (file.has(name) ? { shape: file.info(name).shape, data: file.tensor(name) } : undefined);
}

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes);
  const info = (name: string): SafetensorsTensorInfo => {
    const found = header.tensors.get(name);
    if (!found) fail(`no tensor named "${name}"`);
    return found;
  };
  const tensorBytes = (name: string): Uint8Array => {
    const { begin, end } = info(name);
    return bytes.subarray(header.dataOffset + begin, header.dataOffset + end);
  };
  return {
    header,
    has: (name) => header.tensors.has(name),
    info,
    tensorBytes,
    tensor: (name) => {
      const { dtype } = info(name);
      if (!FLOAT_DTYPES.includes(dtype)) fail(`tensor "${name}" is ${dtype}, not a float dtype`);
      return decodeToFloat32(dtype, tensorBytes(name));
    },
  };
}

export interface SafetensorsLayout {
  /** The 8-byte length and the JSON header, padded: everything before the data section. */
  header: Uint8Array;
  /** In data order: sorted by name. */
  tensors: SafetensorsTensorInfo[];
  dataBytes: number;
}

/**
 * A file's header, from the tensors' names, dtypes and shapes alone, laid out as the Python writer does: tensors
 * sorted by name, data in that order, JSON padded with spaces so that the data section starts on an 8-byte
 * boundary. The data then follows tensor by tensor, in `tensors` order.
 */
export function safetensorsLayout(
  tensors: readonly { name: string; dtype: SafetensorsDtype; shape: number[] }[],
  metadata?: Record<string, string>,
): SafetensorsLayout {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  let offset = 0;
  const infos: SafetensorsTensorInfo[] = [];
  for (const { name, dtype, shape } of sorted) {
    if (name === '__metadata__') fail('"__metadata__" is not a valid tensor name');
    if (name in json) fail(`two tensors are named "${name}"`);
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    json[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    infos.push({ name, dtype, shape, begin: offset, end: offset + bytes });
    offset += bytes;
  }
  const jsonBytes = new TextEncoder().encode(JSON.stringify(json));
  const paddedLength = Math.ceil(jsonBytes.length / 8) * 8;
  const header = new Uint8Array(8 + paddedLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(paddedLength), true);
  header.set(jsonBytes, 8);
  header.fill(0x20, 8 + jsonBytes.length);
  return { header, tensors: infos, dataBytes: offset };
}

/** Writes float32 tensors as a safetensors file (the layout of safetensorsLayout). */
export function writeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (!hostIsLittleEndian) fail('big-endian hosts are not supported');
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    const elements = shape.reduce((a, b) => a * b, 1);
    if (elements !== data.length) {
      fail(`tensor "${name}": shape ${JSON.stringify(shape)} has ${elements} elements, data has ${data.length}`);
    }
  }
  const layout = safetensorsLayout(
    Object.entries(tensors).map(([name, { shape }]) => ({ name, dtype: 'F32' as const, shape })),
    metadata,
  );
  const out = new Uint8Array(layout.header.length + layout.dataBytes);
  out.set(layout.header);
  for (const { name, begin } of layout.tensors) {
    const { data } = tensors[name];
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), layout.header.length + begin);
  }
  return out;
}
