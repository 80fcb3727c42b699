// A structural check of a GGUF header before @huggingface/gguf parses it. The library trusts every count and
// length it reads (a string running past the end gives "Offset is outside the bounds of the DataView", bytes
// past the end read as zeros, duplicate keys overwrite each other), so this walk reads every count, length
// and type id against the bytes that remain and against bounds, and checks that the tensors fill the data
// section exactly. It skips values (the library decodes them) but checks the types of the keys the model uses.
// Layout: src/model/gguf/writer.ts; rules after llama.cpp's gguf.cpp.
import { GGMLQuantizationType } from '@huggingface/gguf';
import { type GgmlType, blockSize, ggmlTypeFromId, tensorBytes, GGML_TYPES } from '../engine/ggml';
import type { GgufRangeSource } from './gguf/reader';

/** The library reads the header into one buffer of at most 50 MB; Llama 3's header (128k tokens, 280k merges) is about 10 MB. */
export const MAX_GGUF_HEADER_BYTES = 40 * 1024 * 1024;
/** The library's own limits, checked here first so that its messages never reach a user. */
const MAX_ARRAY_LENGTH = 1_000_000;
const MAX_KV_COUNT = 100_000;
const MAX_TENSOR_COUNT = 100_000;
const MAX_KEY_BYTES = 1024;
/** ggml's GGML_MAX_NAME (64) counts the terminating NUL. */
const MAX_TENSOR_NAME_BYTES = 63;
const MAX_DIMS = 4;
/** A dimension past this is no real model's (the largest, a vocabulary, is about 2^18) and past WebGPU's buffers. */
export const MAX_TENSOR_DIM = 2 ** 31 - 1;
const MAX_ALIGNMENT = 65536;

const VALUE_TYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'] as const;
type ValueTypeName = (typeof VALUE_TYPES)[number];
const FIXED_SIZE: Partial<Record<ValueTypeName, number>> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, uint64: 8, int64: 8, float64: 8,
};
const INTEGER_TYPES: readonly ValueTypeName[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64'];

type Kind = 'integer' | 'number' | 'string' | 'bool' | 'string array' | 'number array' | 'integer array';

/** The value kinds of the keys this app reads (`ARCH` stands for general.architecture). */
const KEY_KINDS: Record<string, Kind> = {
  'general.architecture': 'string',
  'general.alignment': 'integer',
  'ARCH.vocab_size': 'integer',
  'ARCH.context_length': 'integer',
  'ARCH.embedding_length': 'integer',
  'ARCH.block_count': 'integer',
  'ARCH.feed_forward_length': 'integer',
  'ARCH.attention.head_count': 'integer',
  'ARCH.attention.head_count_kv': 'integer',
  'ARCH.attention.key_length': 'integer',
  'ARCH.attention.value_length': 'integer',
  'ARCH.attention.layer_norm_rms_epsilon': 'number',
  'ARCH.attention.sliding_window': 'integer',
  'ARCH.rope.dimension_count': 'integer',
  'ARCH.rope.freq_base': 'number',
  'ARCH.rope.scale_linear': 'number',
  'ARCH.rope.scaling.type': 'string',
  'ARCH.rope.scaling.factor': 'number',
  'split.no': 'integer',
  'split.count': 'integer',
  'split.tensors.count': 'integer',
  'tokenizer.ggml.model': 'string',
  'tokenizer.ggml.pre': 'string',
  'tokenizer.ggml.tokens': 'string array',
  'tokenizer.ggml.scores': 'number array',
  'tokenizer.ggml.token_type': 'integer array',
  'tokenizer.ggml.merges': 'string array',
  'tokenizer.ggml.bos_token_id': 'integer',
  'tokenizer.ggml.eos_token_id': 'integer',
  'tokenizer.ggml.unknown_token_id': 'integer',
  'tokenizer.ggml.padding_token_id': 'integer',
  'tokenizer.ggml.add_bos_token': 'bool',
  'tokenizer.ggml.add_eos_token': 'bool',
  'tokenizer.ggml.add_space_prefix': 'bool',
  'tokenizer.huggingface.json': 'string',
  'tokenizer.chat_template': 'string',
};

function fits(kind: Kind, type: ValueTypeName, item: ValueTypeName | null): boolean {
  const numeric = (t: ValueTypeName | null) => t !== null && (INTEGER_TYPES.includes(t) || t === 'float32' || t === 'float64');
  switch (kind) {
    case 'integer':
      return INTEGER_TYPES.includes(type);
    case 'number':
      return numeric(type);
    case 'string':
      return type === 'string';
    case 'bool':
      return type === 'bool';
    case 'string array':
      return type === 'array' && item === 'string';
    case 'number array':
      return type === 'array' && numeric(item);
    case 'integer array':
      return type === 'array' && item !== null && INTEGER_TYPES.includes(item);
  }
}

export interface ScannedTensor {
  name: string;
  type: GgmlType;
  shape: number[];
  /** Relative to the data section. */
  offset: number;
  byteLength: number;
}

export interface GgufScan {
  version: 2 | 3;
  tensorCount: number;
  kvCount: number;
  /** Each key's GGUF type: 'uint32', 'string', 'array<string>', ... */
  types: Record<string, string>;
  alignment: number;
  /** Where the tensor infos end (before the padding). */
  headerEnd: number;
  dataOffset: number;
  tensors: ScannedTensor[];
}

function fail(message: string): never {
  throw new Error(`GGUF: ${message}`);
}

const typeName = (id: number): string | undefined => (GGMLQuantizationType as unknown as Record<number, string | undefined>)[id];
const alignUp = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment;
const utf8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Reads the header's bytes from the source in chunks, as far as the walk needs them. */
class HeaderBytes {
  private bytes = new Uint8Array(0);
  private view = new DataView(this.bytes.buffer);
  constructor(private readonly source: GgufRangeSource) {}

  get size(): number {
    return this.source.size;
  }

  /** Makes bytes [offset, offset + n) available; `what` names the field for the error when they are not in the file. */
  async need(offset: number, n: number, what: string): Promise<void> {
    const end = offset + n;
    if (end > this.source.size) {
      fail(`truncated file: its ${this.source.size} bytes end inside the header (${what}, bytes ${offset}..${end})`);
    }
    if (end > MAX_GGUF_HEADER_BYTES) fail(`the header is larger than ${MAX_GGUF_HEADER_BYTES} bytes (${what} at byte ${offset}); no supported model has one so large`);
    if (end <= this.bytes.length) return;
    const want = Math.min(this.source.size, MAX_GGUF_HEADER_BYTES, Math.max(end, this.bytes.length * 2, 1 << 16));
    const more = await this.source.read(this.bytes.length, want);
    const grown = new Uint8Array(this.bytes.length + more.length);
    grown.set(this.bytes);
    grown.set(more, this.bytes.length);
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
    if (end > this.bytes.length) fail(`the file could not be read at bytes ${offset}..${end} (${what})`);
  }

  async u32(offset: number, what: string): Promise<number> {
    await this.need(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  /** A u64, refused beyond `max` (which keeps it a safe integer). */
  async u64(offset: number, what: string, max: number, tooLarge: (value: bigint) => string): Promise<number> {
    await this.need(offset, 8, what);
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(max)) fail(tooLarge(value));
    return Number(value);
  }

  /** A string: u64 length, then UTF-8 bytes. Returns the text (when `decode`) and the offset after it. */
  async string(offset: number, what: string, maxBytes: number, decode: boolean): Promise<{ text: string; end: number }> {
    const left = this.size - offset - 8;
    const length = await this.u64(offset, `the length of ${what}`, Number.MAX_SAFE_INTEGER, (v) => `${what}: its string length ${v} runs past the end of the file (${Math.max(0, left)} bytes left)`);
    if (length > left) fail(`${what}: its string length ${length} runs past the end of the file (${Math.max(0, left)} bytes left)`);
    if (length > maxBytes) fail(`${what}: its string length ${length} is over the limit of ${maxBytes} bytes`);
    await this.need(offset + 8, length, what);
    if (!decode) return { text: '', end: offset + 8 + length };
    let text: string;
    try {
      text = utf8.decode(this.bytes.subarray(offset + 8, offset + 8 + length));
    } catch {
      fail(`${what} is not valid UTF-8 text`);
    }
    return { text, end: offset + 8 + length };
  }
}

/** GGUF tensor names as llama.cpp writes them (any architecture). */
const TENSOR_NAME = /^(blk\.\d+\.|token_embd\.|output(_norm)?\.|rope_freqs\.)/;
const KEY_NAMESPACE = /^(general|tokenizer|split|quantize|adapter)\./;

/**
 * Walks the header: counts, keys (no duplicates), value types and lengths, tensor infos (names, dims, ggml
 * types, offsets), then the layout of the data section. Throws naming the field and what was expected.
 */
export async function scanGgufHeader(source: GgufRangeSource, version: 2 | 3): Promise<GgufScan> {
  const bytes = new HeaderBytes(source);
  const size = source.size;
  // Fixed part: magic, version, tensor_count, kv_count (checked against the smallest size of their entries).
  const tensorCount = await bytes.u64(8, 'tensor_count', MAX_TENSOR_COUNT, (v) => `tensor_count ${v} is over the limit of ${MAX_TENSOR_COUNT}`);
  const kvCount = await bytes.u64(16, 'kv_count', MAX_KV_COUNT, (v) => `kv_count ${v} is over the limit of ${MAX_KV_COUNT}`);
  const MIN_KV_BYTES = 8 + 1 + 4 + 1;
  const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8;
  const leastHeader = 24 + kvCount * MIN_KV_BYTES + tensorCount * MIN_TENSOR_INFO_BYTES;
  if (leastHeader > size) {
    fail(`truncated file: its ${size} bytes end inside the header (kv_count ${kvCount} and tensor_count ${tensorCount} need at least ${leastHeader} bytes)`);
  }

  const types: Record<string, string> = {};
  const arrayItems: Record<string, ValueTypeName> = {};
  let architecture: string | null = null;
  let alignment = 32;
  let offset = 24;

  /** The type of a key the app reads, against what it expects. */
  const checkKind = (key: string): void => {
    const pattern = architecture !== null && key.startsWith(`${architecture}.`) ? `ARCH.${key.slice(architecture.length + 1)}` : key;
    const kind = KEY_KINDS[pattern];
    if (kind === undefined) return;
    const type = types[key].startsWith('array') ? 'array' : (types[key] as ValueTypeName);
    if (!fits(kind, type, arrayItems[key] ?? null)) fail(`metadata key "${key}" is ${types[key]}, expected ${kind === 'integer' ? 'an' : 'a'} ${kind}`);
  };

  const valueType = async (at: number, what: string): Promise<ValueTypeName> => {
    const id = await bytes.u32(at, what);
    const type = VALUE_TYPES[id];
    if (type === undefined) fail(`${what} is ${id}, not a GGUF value type (0..${VALUE_TYPES.length - 1})`);
    return type;
  };

  /** Skips a value of `type` at `at`; returns the offset after it. */
  const skipValue = async (type: ValueTypeName, at: number, what: string, inArray: boolean): Promise<number> => {
    const fixed = FIXED_SIZE[type];
    if (fixed !== undefined) {
      await bytes.need(at, fixed, what);
      return at + fixed;
    }
    if (type === 'string') return (await bytes.string(at, what, size, false)).end;
    if (inArray) fail(`${what} is an array of arrays, which GGUF readers (llama.cpp's too) do not accept`);
    const item = await valueType(at, `the item type of ${what}`);
    const length = await bytes.u64(at + 4, `the length of ${what}`, MAX_ARRAY_LENGTH, (v) => `${what}: array length ${v} is over the limit of ${MAX_ARRAY_LENGTH}`);
    let end = at + 12;
    const itemSize = FIXED_SIZE[item];
    if (itemSize !== undefined) {
      if (length * itemSize > size - end) fail(`${what}: ${length} items of ${item} run past the end of the file (${size - end} bytes left)`);
      await bytes.need(end, length * itemSize, what);
      return end + length * itemSize;
    }
    if (item === 'string' && length * 8 > size - end) fail(`${what}: ${length} strings run past the end of the file (${size - end} bytes left)`);
    for (let i = 0; i < length; i++) end = await skipValue(item, end, `${what} item ${i}`, true);
    return end;
  };

  for (let i = 0; i < kvCount; i++) {
    const { text: key, end: keyEnd } = await bytes.string(offset, `the key of metadata entry ${i}`, MAX_KEY_BYTES, true);
    if (key.length === 0 || CONTROL.test(key)) fail(`metadata entry ${i} has the key ${JSON.stringify(key)}, not a key name`);
    if (TENSOR_NAME.test(key) && !KEY_NAMESPACE.test(key)) {
      fail(`metadata entry ${i} is named "${key}", a tensor name: kv_count (${kvCount}) is larger than the number of metadata entries`);
    }
    if (key in types) fail(`metadata key "${key}" appears twice`);
    const what = `metadata key "${key}"`;
    const type = await valueType(keyEnd, `the value type of ${what}`);
    const valueAt = keyEnd + 4;
    if (type === 'array') {
      const item = await valueType(valueAt, `the item type of ${what}`);
      arrayItems[key] = item;
      types[key] = `array<${item}>`;
    } else {
      types[key] = type;
    }
    if (key === 'general.architecture' && type === 'string') architecture = (await bytes.string(valueAt, what, 256, true)).text;
    checkKind(key); // before the value is skipped: a wrong type would misread everything after it
    if (key === 'general.alignment') {
      if (type !== 'uint32') fail(`general.alignment is a ${type}, expected a uint32`);
      alignment = await bytes.u32(valueAt, what);
      if (alignment === 0 || (alignment & (alignment - 1)) !== 0 || alignment > MAX_ALIGNMENT) {
        fail(`general.alignment ${alignment} is not a power of two from 1 to ${MAX_ALIGNMENT}`);
      }
    }
    offset = await skipValue(type, valueAt, what, false);
  }

  // Keys that came before general.architecture.
  for (const key of Object.keys(types)) checkKind(key);

  const tensors: ScannedTensor[] = [];
  const names = new Set<string>();
  const readTensorInfo = async (at: number, index: number): Promise<{ tensor: ScannedTensor; end: number }> => {
    const what = `tensor info ${index}`;
    const { text: name, end: nameEnd } = await bytes.string(at, `the name of ${what}`, MAX_TENSOR_NAME_BYTES, true);
    if (name.length === 0 || CONTROL.test(name)) fail(`${what} has the name ${JSON.stringify(name)}, not a tensor name`);
    if (KEY_NAMESPACE.test(name) || (architecture !== null && name.startsWith(`${architecture}.`))) {
      fail(`${what} is named "${name}", a metadata key: kv_count (${kvCount}) is smaller than the number of metadata entries`);
    }
    const dims = await bytes.u32(nameEnd, `the n_dims of tensor ${name}`);
    if (dims < 1 || dims > MAX_DIMS) fail(`tensor ${name} has ${dims} dimensions; GGUF tensors have 1 to ${MAX_DIMS}`);
    const shape: number[] = [];
    for (let d = 0; d < dims; d++) {
      shape.push(
        await bytes.u64(nameEnd + 4 + 8 * d, `dimension ${d} of tensor ${name}`, MAX_TENSOR_DIM, (v) =>
          `tensor ${name}: dimension ${d} is ${v}, over the limit of ${MAX_TENSOR_DIM}`,
        ),
      );
      if (shape[d] === 0) fail(`tensor ${name}: dimension ${d} is 0; every dimension must be at least 1`);
    }
    const typeAt = nameEnd + 4 + 8 * dims;
    const typeId = await bytes.u32(typeAt, `the ggml type of tensor ${name}`);
    const type = ggmlTypeFromId(typeId);
    if (type === null) {
      const known = typeName(typeId);
      if (known === undefined) fail(`tensor ${name} has ggml type id ${typeId}, which is no ggml type`);
      fail(`tensor ${name} is ${known}, which is not supported; supported: ${GGML_TYPES.join(', ')}`);
    }
    const relative = await bytes.u64(typeAt + 4, `the offset of tensor ${name}`, Number.MAX_SAFE_INTEGER, (v) => `tensor ${name}: offset ${v} is past any file`);
    if (shape[0] % blockSize(type) !== 0) {
      fail(`tensor ${name}: ${type} rows hold blocks of ${blockSize(type)} values, but ne[0] is ${shape[0]}`);
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) fail(`tensor ${name}: shape [${shape}] holds ${elements} values, more than any file could hold`);
    return { tensor: { name, type, shape, offset: relative, byteLength: tensorBytes(type, elements) }, end: typeAt + 12 };
  };

  for (let i = 0; i < tensorCount; i++) {
    let read;
    try {
      read = await readTensorInfo(offset, i);
    } catch (error) {
      // The last info has no name: the padding or the data section was read as a tensor info.
      const nameless = /the name of tensor info|not a tensor name/.test((error as Error).message);
      if (i > 0 && i === tensorCount - 1 && nameless) {
        throw new Error(`${(error as Error).message} (tensor_count ${tensorCount} may be larger than the number of tensor infos)`);
      }
      throw error;
    }
    const { tensor, end } = read;
    if (names.has(tensor.name)) fail(`two tensors are named "${tensor.name}"`);
    names.add(tensor.name);
    if (tensor.offset % alignment !== 0) fail(`tensor ${tensor.name}: offset ${tensor.offset} is not a multiple of the alignment ${alignment}`);
    tensors.push(tensor);
    offset = end;
  }
  const headerEnd = offset;
  const dataOffset = alignUp(headerEnd, alignment);

  const layoutProblem = checkDataLayout(tensors, dataOffset, size, alignment);
  if (layoutProblem !== null) {
    const hints: string[] = [];
    // Another plausible tensor info right after the last one: tensor_count is too small.
    try {
      const extra = await readTensorInfo(headerEnd, tensorCount);
      hints.push(`another tensor info ("${extra.tensor.name}") follows the last one: tensor_count ${tensorCount} is too small`);
    } catch {
      // not a tensor info
    }
    if (hints.length === 0) hints.push(...typeHint(tensors, dataOffset, size, alignment));
    if (hints.length === 0) {
      for (let candidate = 1; candidate <= 4096; candidate *= 2) {
        const start = alignUp(headerEnd, candidate);
        if (start !== dataOffset && tensors.every((t) => t.offset % candidate === 0) && checkDataLayout(tensors, start, size, candidate) === null) {
          hints.push(`the tensors fit the file if the data section starts at byte ${start} (alignment ${candidate}): general.alignment (${alignment}) does not match the layout`);
          break;
        }
      }
    }
    fail(hints.length > 0 ? `${layoutProblem}; ${hints[0]}` : layoutProblem);
  }
  return { version, tensorCount, kvCount, types, alignment, headerEnd, dataOffset, tensors };
}

/**
 * When one tensor of another type would make the layout exact, says so: its type id was likely changed. Only the
 * tensors next to where the layout breaks are tried, so this stays fast for any number of tensors.
 */
function typeHint(tensors: readonly ScannedTensor[], dataOffset: number, fileSize: number, alignment: number): string[] {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  const suspects = new Set<ScannedTensor>();
  sorted.forEach((t, i) => {
    const next = sorted[i + 1];
    const end = t.offset + t.byteLength;
    const broken = next ? next.offset < end || next.offset - end >= alignment : end > fileSize - dataOffset || fileSize - dataOffset - end >= alignment;
    if (broken) {
      suspects.add(t);
      if (next) suspects.add(next);
    }
  });
  if (suspects.size > 3) return [];
  for (const t of suspects) {
    for (const type of GGML_TYPES) {
      if (type === t.type || t.shape[0] % blockSize(type) !== 0) continue;
      const byteLength = tensorBytes(type, t.shape.reduce((a, b) => a * b, 1));
      const changed = tensors.map((other) => (other === t ? { ...other, type, byteLength } : other));
      if (checkDataLayout(changed, dataOffset, fileSize, alignment) === null) {
        return [`the tensors fill the data section exactly if tensor ${t.name} is ${type}: its type ${t.type} does not match the layout`];
      }
    }
  }
  return [];
}

/**
 * The data section holds the tensors in offset order, each at the next multiple of the alignment after the one
 * before, without overlaps or gaps, and the file ends within one alignment's padding after the last.
 * Returns the problem, or null.
 */
function checkDataLayout(tensors: readonly ScannedTensor[], dataOffset: number, fileSize: number, alignment: number): string | null {
  const dataBytes = fileSize - dataOffset;
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  let end = 0;
  let previous: ScannedTensor | null = null;
  for (const t of sorted) {
    if (previous && t.offset < end) {
      return `tensor ${t.name} (data bytes ${t.offset}..${t.offset + t.byteLength}) overlaps tensor ${previous.name} (data bytes ${previous.offset}..${end})`;
    }
    if (t.offset - end >= alignment || (previous === null && t.offset > 0)) {
      return `data bytes ${end}..${t.offset} belong to no tensor (before tensor ${t.name}); tensors must fill the data section`;
    }
    if (dataOffset + t.offset + t.byteLength > fileSize) {
      return `truncated file: tensor ${t.name} ends at byte ${dataOffset + t.offset + t.byteLength}, but the file has ${fileSize} bytes`;
    }
    end = t.offset + t.byteLength;
    previous = t;
  }
  if (dataBytes < 0) return tensors.length > 0 ? `truncated file: the data section would start at byte ${dataOffset}, past the file's ${fileSize} bytes` : null;
  if (dataBytes - end >= alignment) {
    return `the data section has ${dataBytes} bytes, but its tensors end at data byte ${end}: ${dataBytes - end} bytes belong to no tensor`;
  }
  return null;
}
