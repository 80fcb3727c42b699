// A GGUF writer (format versions 2 and 3, little-endian). Layout, after ggml's docs/gguf.md:
//   magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
//   kv_count x (key: string, value_type u32, value)            string = u64 byte length + UTF-8 bytes
//   tensor_count x (name: string, n_dims u32, ne u64[n_dims], ggml_type u32, offset u64)
//   zero padding to `alignment`, then the data section: each tensor at its offset (relative to the section,
//   a multiple of `alignment`), each tensor's bytes padded with zeros to `alignment`.
// An array value is item_type u32 | count u64 | the items. v2 and v3 share this layout; v3 only added
// big-endian files, which this writer does not produce.
import { type GgmlType, GGML_TYPE_ID, blockSize, tensorBytes } from '../../engine/ggml';

export type GgufNumberType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'uint64'
  | 'int64'
  | 'float64';
export type GgufArrayItemType = GgufNumberType | 'bool' | 'string';

/**
 * A typed metadata value. Plain strings and booleans stand for themselves; numbers carry their GGUF type,
 * since JavaScript cannot tell a float32 10000 from a uint32 10000.
 */
export type GgufValue =
  | string
  | boolean
  | { type: GgufNumberType; value: number | bigint }
  | {
      type: 'array';
      itemType: GgufArrayItemType;
      values: readonly (number | bigint)[] | readonly string[] | readonly boolean[] | Float32Array | Int32Array | Uint32Array;
    };

/** Constructors for typed values: `ggufValue.u32(4)`, `ggufValue.array('string', tokens)`. */
export const ggufValue = {
  u8: (value: number): GgufValue => ({ type: 'uint8', value }),
  i8: (value: number): GgufValue => ({ type: 'int8', value }),
  u16: (value: number): GgufValue => ({ type: 'uint16', value }),
  i16: (value: number): GgufValue => ({ type: 'int16', value }),
  u32: (value: number): GgufValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufValue => ({ type: 'int32', value }),
  f32: (value: number): GgufValue => ({ type: 'float32', value }),
  u64: (value: number | bigint): GgufValue => ({ type: 'uint64', value }),
  i64: (value: number | bigint): GgufValue => ({ type: 'int64', value }),
  f64: (value: number): GgufValue => ({ type: 'float64', value }),
  array: (
    itemType: GgufArrayItemType,
    values: Extract<GgufValue, { type: 'array' }>['values'],
  ): GgufValue => ({ type: 'array', itemType, values }),
};

/** gguf_metadata_value_type ids. */
export const GGUF_VALUE_TYPE_ID: Record<GgufArrayItemType | 'array', number> = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
};

export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_NAME counts the terminating NUL. */
const MAX_TENSOR_NAME_BYTES = 63;
const MAX_DIMS = 4;

export interface GgufTensorEntry {
  name: string;
  type: GgmlType;
  /** GGUF order: shape[0] (ne[0]) is the innermost dimension, the row length. A [out, in] HF matrix is [in, out]. */
  shape: number[];
}

export interface GgufTensorInput extends GgufTensorEntry {
  /** Already encoded in `type`. */
  data: Uint8Array;
}

export interface GgufLayoutOptions {
  version?: 2 | 3;
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorEntry[];
  /** Default: metadata general.alignment if given, else 32. Written as general.alignment when not 32. */
  alignment?: number;
}

export interface WriteGgufOptions extends GgufLayoutOptions {
  tensors: GgufTensorInput[];
}

function fail(message: string): never {
  throw new Error(`GGUF writer: ${message}`);
}

const INTEGER_RANGES: Partial<Record<GgufNumberType, [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
};

const NUMBER_BYTES: Record<GgufNumberType, number> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

function checkNumber(type: GgufNumberType, value: number | bigint, what: string): void {
  if (type === 'uint64' || type === 'int64') {
    const big = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : null;
    const [lo, hi] = type === 'uint64' ? [0n, (1n << 64n) - 1n] : [-(1n << 63n), (1n << 63n) - 1n];
    if (big === null || big < lo || big > hi) fail(`${what}: ${String(value)} is not a valid ${type}`);
    return;
  }
  if (typeof value !== 'number') fail(`${what}: ${type} needs a number, got a bigint`);
  const range = INTEGER_RANGES[type];
  if (range && !(Number.isInteger(value) && value >= range[0] && value <= range[1])) {
    fail(`${what}: ${value} is not a valid ${type}`);
  }
}

/** Accumulates bytes in a growing buffer. */
class ByteSink {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;
  private readonly encoder = new TextEncoder();

  private reserve(extra: number): number {
    const needed = this.length + extra;
    if (needed > this.buffer.length) {
      let size = this.buffer.length * 2;
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length = needed;
    return at;
  }

  u32(value: number): void {
    this.view.setUint32(this.reserve(4), value, true);
  }

  u64(value: number | bigint): void {
    this.view.setBigUint64(this.reserve(8), BigInt(value), true);
  }

  bytes(data: Uint8Array): void {
    this.buffer.set(data, this.reserve(data.length));
  }

  string(value: string): void {
    const encoded = this.encoder.encode(value);
    this.u64(encoded.length);
    this.bytes(encoded);
  }

  number(type: GgufNumberType, value: number | bigint): void {
    const at = this.reserve(NUMBER_BYTES[type]);
    const v = this.view;
    switch (type) {
      case 'uint8':
        return v.setUint8(at, Number(value));
      case 'int8':
        return v.setInt8(at, Number(value));
      case 'uint16':
        return v.setUint16(at, Number(value), true);
      case 'int16':
        return v.setInt16(at, Number(value), true);
      case 'uint32':
        return v.setUint32(at, Number(value), true);
      case 'int32':
        return v.setInt32(at, Number(value), true);
      case 'float32':
        return v.setFloat32(at, Number(value), true);
      case 'float64':
        return v.setFloat64(at, Number(value), true);
      case 'uint64':
        return v.setBigUint64(at, BigInt(value), true);
      case 'int64':
        return v.setBigInt64(at, BigInt(value), true);
    }
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

function writeValue(sink: ByteSink, key: string, value: GgufValue): void {
  if (typeof value === 'string') {
    sink.u32(GGUF_VALUE_TYPE_ID.string);
    sink.string(value);
  } else if (typeof value === 'boolean') {
    sink.u32(GGUF_VALUE_TYPE_ID.bool);
    sink.number('uint8', value ? 1 : 0);
  } else if (value.type === 'array') {
    const { itemType, values } = value;
    if (!(itemType in NUMBER_BYTES) && itemType !== 'bool' && itemType !== 'string') {
      fail(`${key}: unsupported array item type ${JSON.stringify(itemType)}`);
    }
    sink.u32(GGUF_VALUE_TYPE_ID.array);
    sink.u32(GGUF_VALUE_TYPE_ID[itemType]);
    sink.u64(values.length);
    for (let i = 0; i < values.length; i++) {
      const item = values[i];
      if (itemType === 'string') {
        if (typeof item !== 'string') fail(`${key}[${i}]: expected a string, got ${typeof item}`);
        sink.string(item);
      } else if (itemType === 'bool') {
        if (typeof item !== 'boolean') fail(`${key}[${i}]: expected a boolean, got ${typeof item}`);
        sink.number('uint8', item ? 1 : 0);
      } else {
        if (typeof item !== 'number' && typeof item !== 'bigint') fail(`${key}[${i}]: expected a number, got ${typeof item}`);
        checkNumber(itemType, item, `${key}[${i}]`);
        sink.number(itemType, item);
      }
    }
  } else {
    if (!(value.type in NUMBER_BYTES)) fail(`${key}: unknown value type ${JSON.stringify(value.type)}`);
    checkNumber(value.type, value.value, key);
    sink.u32(GGUF_VALUE_TYPE_ID[value.type]);
    sink.number(value.type, value.value);
  }
}

const alignUp = (offset: number, alignment: number) => Math.ceil(offset / alignment) * alignment;

function readAlignment(metadata: Record<string, GgufValue>, requested: number | undefined): number {
  const stored = metadata['general.alignment'];
  let fromMetadata: number | undefined;
  if (stored !== undefined) {
    if (typeof stored !== 'object' || stored.type !== 'uint32') fail('general.alignment must be a uint32');
    fromMetadata = Number(stored.value);
  }
  if (requested !== undefined && fromMetadata !== undefined && requested !== fromMetadata) {
    fail(`alignment ${requested} contradicts general.alignment ${fromMetadata}`);
  }
  const alignment = requested ?? fromMetadata ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 8 || alignment % 8 !== 0 || (alignment & (alignment - 1)) !== 0) {
    fail(`alignment must be a power of two and a multiple of 8, got ${alignment}`);
  }
  return alignment;
}

function checkTensorInfo(tensor: GgufTensorEntry, seen: Set<string>): number {
  const { name, type, shape } = tensor;
  const nameBytes = new TextEncoder().encode(name).length;
  if (nameBytes === 0 || nameBytes > MAX_TENSOR_NAME_BYTES) {
    fail(`tensor name "${name}" must be 1 to ${MAX_TENSOR_NAME_BYTES} bytes long`);
  }
  if (seen.has(name)) fail(`two tensors are named "${name}"`);
  seen.add(name);
  if (!(type in GGML_TYPE_ID)) fail(`tensor "${name}": unknown type ${JSON.stringify(type)}`);
  if (shape.length < 1 || shape.length > MAX_DIMS || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    fail(`tensor "${name}": shape ${JSON.stringify(shape)} must be 1 to ${MAX_DIMS} positive integers`);
  }
  if (shape[0] % blockSize(type) !== 0) {
    fail(`tensor "${name}": ${type} rows hold blocks of ${blockSize(type)} values, but ne[0] is ${shape[0]}`);
  }
  return tensorBytes(type, shape.reduce((a, b) => a * b, 1));
}

function checkTensorData(tensor: GgufTensorEntry & { bytes: number }, data: Uint8Array): void {
  if (data.length !== tensor.bytes) {
    fail(`tensor "${tensor.name}": ${tensor.type} ${JSON.stringify(tensor.shape)} takes ${tensor.bytes} bytes, data has ${data.length}`);
  }
}

/** A tensor as the header describes it: where its data lies and how long it is. */
export interface GgufPlacedTensor extends GgufTensorEntry {
  /** Offset in the data section. */
  offset: number;
  bytes: number;
}

export interface GgufLayout {
  /** The header: everything before the first tensor's data, padded to the alignment. */
  header: Uint8Array;
  tensors: GgufPlacedTensor[];
  alignment: number;
  /** The whole file's size. */
  fileBytes: number;
}

/** The layout of a GGUF file (its header bytes, where each tensor goes), from the tensors' names, types and shapes alone. */
export function ggufLayout(opts: GgufLayoutOptions): GgufLayout {
  const version = opts.version ?? 3;
  if (version !== 2 && version !== 3) fail(`version must be 2 or 3, got ${String(version)}`);
  const alignment = readAlignment(opts.metadata, opts.alignment);
  const metadata: Record<string, GgufValue> = { ...opts.metadata };
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) metadata['general.alignment'] = ggufValue.u32(alignment);

  const seen = new Set<string>();
  const sizes = opts.tensors.map((tensor) => checkTensorInfo(tensor, seen));

  const sink = new ByteSink();
  sink.bytes(new Uint8Array([0x47, 0x47, 0x55, 0x46])); // "GGUF"
  sink.u32(version);
  sink.u64(opts.tensors.length);
  const keys = Object.keys(metadata);
  sink.u64(keys.length);
  for (const key of keys) {
    if (!/^[\x20-\x7e]+$/.test(key) || key.length > 0xffff) fail(`metadata key ${JSON.stringify(key)} must be printable ASCII`);
    sink.string(key);
    writeValue(sink, key, metadata[key]);
  }

  let dataSize = 0;
  const tensors: GgufPlacedTensor[] = [];
  opts.tensors.forEach((tensor, i) => {
    const { name, type, shape } = tensor;
    tensors.push({ name, type, shape, offset: dataSize, bytes: sizes[i] });
    sink.string(name);
    sink.u32(shape.length);
    for (const dim of shape) sink.u64(dim);
    sink.u32(GGML_TYPE_ID[type]);
    sink.u64(dataSize);
    dataSize = alignUp(dataSize + sizes[i], alignment);
  });

  const dataOffset = alignUp(sink.length, alignment);
  const header = new Uint8Array(dataOffset);
  header.set(sink.result());
  return { header, tensors, alignment, fileBytes: dataOffset + dataSize };
}

/**
 * Writes a GGUF file piece by piece: the header, then each tensor's data in order, asked for only when it is
 * its turn (`data(tensor, index)`), so that no more than one tensor needs to be in memory. `written(index)`
 * follows each tensor's last byte.
 */
export async function writeGgufStreamed(
  opts: GgufLayoutOptions,
  data: (tensor: GgufPlacedTensor, index: number) => Promise<Uint8Array> | Uint8Array,
  write: (bytes: Uint8Array) => Promise<void>,
  written?: (index: number) => void,
): Promise<GgufLayout> {
  const layout = ggufLayout(opts);
  await write(layout.header);
  for (let i = 0; i < layout.tensors.length; i++) {
    const tensor = layout.tensors[i];
    const bytes = await data(tensor, i);
    checkTensorData(tensor, bytes);
    await write(bytes);
    const padding = alignUp(bytes.length, layout.alignment) - bytes.length;
    if (padding > 0) await write(new Uint8Array(padding));
    written?.(i);
  }
  return layout;
}

/** Serialises a GGUF file. Metadata keys are written in insertion order, tensors in the order given. */
export function writeGguf(opts: WriteGgufOptions): Uint8Array {
  const layout = ggufLayout(opts);
  const out = new Uint8Array(layout.fileBytes);
  out.set(layout.header);
  layout.tensors.forEach((tensor, i) => {
    checkTensorData(tensor, opts.tensors[i].data);
    out.set(opts.tensors[i].data, layout.header.length + tensor.offset);
  });
  return out;
}
