// A deterministic generator of broken model files, derived at test time from the fixtures in src/testdata (GGUF in
// F16/Q8_0/Q4_0/Q6_K, safetensors with config.json): every mutation class of issue 14 (bytes changed in place,
// truncations at every field, counts, lengths, types, hyperparameters, overlapping or misplaced tensor data,
// NaN/Inf values and block scales, layers past the count, token ids outside the vocabulary, dtypes). Each mutant
// carries a pattern its error must match: the problem in words. Nothing here is committed as data.
import { type GgmlType, GGML_TYPE_ID, blockBytes } from '../engine/ggml';
import { GGUF_CASES, GENERATED_CASES, REFERENCE_CASES, readFixtureBytes } from '../testdata/cases.testing';
import { type GgufMetadata, parseGgufHeader } from './gguf/reader';
import { type GgufTensorInput, type GgufValue, ggufValue, writeGguf } from './gguf/writer';

export type ModelFiles = Record<string, Uint8Array>;

export interface Base {
  name: string;
  format: 'gguf' | 'safetensors';
  files: ModelFiles;
}

export interface Mutant {
  /** The mutation class (counted per class by the fuzz test). */
  kind: string;
  /** What was done, for a failure's message. */
  name: string;
  base: Base;
  files: ModelFiles;
  /** The error must match this: it names the problem. */
  expect: RegExp;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------------------------
// GGUF: where each field of the header lies

interface KvField {
  key: string;
  keyAt: number;
  typeAt: number;
  valueAt: number;
  type: number;
  end: number;
}

interface TensorField {
  name: string;
  type: GgmlType;
  nameAt: number;
  ndimsAt: number;
  ndims: number;
  typeAt: number;
  offsetAt: number;
  /** Relative to the data section. */
  offset: number;
  bytes: number;
}

interface GgufMap {
  kvs: KvField[];
  tensors: TensorField[];
  headerEnd: number;
  dataOffset: number;
  alignment: number;
}

const FIXED: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** The fields of a well-formed GGUF file (the fixtures), for mutations in place. */
async function mapGguf(bytes: Uint8Array): Promise<GgufMap> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const str = (at: number) => ({ text: new TextDecoder().decode(bytes.subarray(at + 8, at + 8 + u64(at))), end: at + 8 + u64(at) });
  const skip = (type: number, at: number): number => {
    if (type in FIXED) return at + FIXED[type];
    if (type === 8) return str(at).end;
    const item = view.getUint32(at, true);
    let end = at + 12;
    for (let i = 0; i < u64(at + 4); i++) end = skip(item, end);
    return end;
  };
  let at = 24;
  const kvs: KvField[] = [];
  for (let i = 0; i < u64(16); i++) {
    const key = str(at);
    const type = view.getUint32(key.end, true);
    const end = skip(type, key.end + 4);
    kvs.push({ key: key.text, keyAt: at, typeAt: key.end, valueAt: key.end + 4, type, end });
    at = end;
  }
  const header = await parseGgufHeader(bytes);
  const tensors: TensorField[] = [];
  for (let i = 0; i < u64(8); i++) {
    const name = str(at);
    const ndims = view.getUint32(name.end, true);
    const typeAt = name.end + 4 + 8 * ndims;
    const info = header.tensorInfos[i];
    tensors.push({ name: name.text, type: info.type, nameAt: at, ndimsAt: name.end, ndims, typeAt, offsetAt: typeAt + 4, offset: info.offset - header.dataOffset, bytes: info.byteLength });
    at = typeAt + 12;
  }
  return { kvs, tensors, headerEnd: at, dataOffset: header.dataOffset, alignment: header.alignment };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function patched(bytes: Uint8Array, change: (view: DataView, out: Uint8Array) => void): Uint8Array {
  const out = bytes.slice();
  change(new DataView(out.buffer), out);
  return out;
}

const setU32 = (bytes: Uint8Array, at: number, value: number) => patched(bytes, (v) => v.setUint32(at, value >>> 0, true));
const setU64 = (bytes: Uint8Array, at: number, value: number | bigint) => patched(bytes, (v) => v.setBigUint64(at, BigInt(value), true));
const setF32 = (bytes: Uint8Array, at: number, value: number) => patched(bytes, (v) => v.setFloat32(at, value, true));
const setU16 = (bytes: Uint8Array, at: number, value: number) => patched(bytes, (v) => v.setUint16(at, value, true));

/** The same model re-encoded by our writer, with changes to its metadata and tensors. */
async function reencode(
  bytes: Uint8Array,
  change: { metadata?: (m: Record<string, GgufValue>) => void; tensors?: (t: GgufTensorInput[]) => GgufTensorInput[]; alignment?: number },
): Promise<Uint8Array> {
  const header = await parseGgufHeader(bytes);
  const metadata: Record<string, GgufValue> = {};
  for (const [key, value] of Object.entries(header.metadata as GgufMetadata)) {
    const type = header.metadataTypes[key];
    if (type === 'string' || type === 'bool') metadata[key] = value as string | boolean;
    else if (type.startsWith('array<')) metadata[key] = ggufValue.array(type.slice(6, -1) as never, value as never);
    else metadata[key] = { type: type as never, value: value as number };
  }
  delete metadata['general.alignment'];
  change.metadata?.(metadata);
  let tensors: GgufTensorInput[] = header.tensorInfos.map((info) => ({
    name: info.name,
    type: info.type,
    shape: info.shape,
    data: bytes.slice(info.offset, info.offset + info.byteLength),
  }));
  if (change.tensors) tensors = change.tensors(tensors);
  return writeGguf({ version: header.version, metadata, tensors, alignment: change.alignment });
}

/** A small SentencePiece-style tokenizer for the GGUF of a model with `vocab` tokens. */
function tokenizerMetadata(vocab: number): Record<string, GgufValue> {
  const tokens = Array.from({ length: vocab }, (_, i) => (i === 0 ? '<unk>' : i === 1 ? '<s>' : i === 2 ? '</s>' : `t${i}`));
  return {
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': ggufValue.array('string', tokens),
    'tokenizer.ggml.scores': ggufValue.array('float32', tokens.map(() => 0)),
    'tokenizer.ggml.token_type': ggufValue.array('int32', tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1))),
  };
}

export async function fixtureBases(): Promise<Base[]> {
  const bases: Base[] = [];
  for (const name of GGUF_CASES) bases.push({ name, format: 'gguf', files: { 'model.gguf': await readFixtureBytes(`gguf/${name}/model.gguf`) } });
  const first = bases[0].files['model.gguf'];
  const vocab = Number((await parseGgufHeader(first)).metadata['llama.vocab_size']);
  bases.push({
    name: `${bases[0].name}+tokenizer`,
    format: 'gguf',
    files: { 'model.gguf': await reencode(first, { metadata: (m) => Object.assign(m, tokenizerMetadata(vocab)) }) },
  });
  for (const folder of [...REFERENCE_CASES.map((c) => `reference/${c}`), ...GENERATED_CASES.map((c) => `generated/${c}`)]) {
    bases.push({
      name: folder,
      format: 'safetensors',
      files: { 'config.json': await readFixtureBytes(`${folder}/config.json`), 'model.safetensors': await readFixtureBytes(`${folder}/model.safetensors`) },
    });
  }
  return bases;
}

// ---------------------------------------------------------------------------------------------------------
// GGUF mutants

const NAN_BITS = { F32: 0x7fc00000, F16: 0x7e00, BF16: 0x7fc0 };

async function ggufMutants(base: Base): Promise<Mutant[]> {
  const bytes = base.files['model.gguf'];
  const map = await mapGguf(bytes);
  const out: Mutant[] = [];
  const add = (kind: string, name: string, mutated: Uint8Array, expect: RegExp) => out.push({ kind, name, base, files: { 'model.gguf': mutated }, expect });
  const kv = (key: string) => map.kvs.find((k) => k.key === key);
  const size = bytes.length;

  // Magic and version.
  add('magic/version', 'magic GGUX', patched(bytes, (_, b) => b.set([0x47, 0x47, 0x55, 0x58], 0)), /not a GGUF file/);
  add('magic/version', 'magic zeroed', patched(bytes, (_, b) => b.fill(0, 0, 4)), /not a GGUF file/);
  for (const version of [0, 1, 4, 0xffff]) add('magic/version', `version ${version}`, setU32(bytes, 4, version), new RegExp(`GGUF version ${version} is not supported`));
  add('magic/version', 'big-endian version', patched(bytes, (_, b) => b.set([0, 0, 0, 3], 4)), /big-endian/);

  // Truncation inside every kind of field.
  const firstU32 = map.kvs.find((k) => k.type === 4) as KvField;
  const firstString = map.kvs.find((k) => k.type === 8) as KvField;
  const lastKv = map.kvs[map.kvs.length - 1];
  const [t0] = map.tensors;
  const last = map.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
  const cuts: [string, number][] = [
    ['magic', 3], ['version', 6], ['tensor_count', 12], ['kv_count', 20], ['a key length', firstU32.keyAt + 4], ['a key', firstU32.keyAt + 10],
    ['a value type', firstU32.typeAt + 2], ['a u32 value', firstU32.valueAt + 2], ['a string value', firstString.valueAt + 9], ['the last value', lastKv.end - 1],
    ['a tensor name', t0.nameAt + 9], ['n_dims', t0.ndimsAt + 2], ['a dimension', t0.ndimsAt + 7], ['a ggml type', t0.typeAt + 1],
    ['a tensor offset', t0.offsetAt + 5], ['the padding', map.headerEnd + 1], ['the first tensor', map.dataOffset + 3],
    ['the last tensor', map.dataOffset + last.offset + Math.floor(last.bytes / 2)], ['the last byte', size - 1 - ((size - map.dataOffset - last.offset - last.bytes) % map.alignment)],
  ];
  for (const [field, at] of cuts) {
    if (at >= size || (field === 'the padding' && map.headerEnd + 1 >= map.dataOffset)) continue;
    add('truncation', `cut inside ${field} (${at} bytes)`, bytes.slice(0, at), at < 8 ? /not a GGUF file/ : /truncated file|runs? past the end of the file/);
  }

  // Counts.
  const kvCount = map.kvs.length;
  const tensorCount = map.tensors.length;
  add('counts', 'tensor_count 2^40', setU64(bytes, 8, 2n ** 40n), /tensor_count 1099511627776 is over the limit/);
  add('counts', 'tensor_count 100000', setU64(bytes, 8, 100000), /truncated file.*tensor_count 100000/);
  add('counts', 'kv_count 2^40', setU64(bytes, 16, 2n ** 40n), /kv_count 1099511627776 is over the limit/);
  add('counts', 'kv_count 90000', setU64(bytes, 16, 90000), /truncated file.*kv_count 90000/);
  add('counts', 'kv_count one too small', setU64(bytes, 16, kvCount - 1), new RegExp(`kv_count \\(${kvCount - 1}\\) is smaller`));
  add('counts', 'kv_count one too large', setU64(bytes, 16, kvCount + 1), new RegExp(`kv_count \\(${kvCount + 1}\\) is larger`));
  add('counts', 'tensor_count one too small', setU64(bytes, 8, tensorCount - 1), new RegExp(`tensor_count ${tensorCount - 1} is too small`));
  add('counts', 'tensor_count one too large', setU64(bytes, 8, tensorCount + 1), new RegExp(`tensor_count ${tensorCount + 1} may be larger`));

  // String lengths.
  add('lengths', 'key length 2^40', setU64(bytes, firstU32.keyAt, 2n ** 40n), /string length 1099511627776 runs past the end of the file/);
  add('lengths', 'key length one past the end', setU64(bytes, firstU32.keyAt, size - firstU32.keyAt - 8 + 1), /runs past the end of the file \(\d+ bytes left\)/);
  add('lengths', 'key length 0', setU64(bytes, firstU32.keyAt, 0), /has the key "", not a key name/);
  add('lengths', 'string value length 2^63', setU64(bytes, firstString.valueAt, 2n ** 63n), /string length 9223372036854775808 runs past the end/);
  add('lengths', 'string value length past the end', setU64(bytes, firstString.valueAt, size), new RegExp(`"${escape(firstString.key)}": its string length ${size} runs past the end`));
  add('lengths', 'tensor name length 2^40', setU64(bytes, t0.nameAt, 2n ** 40n), /tensor info 0: its string length 1099511627776 runs past/);
  add('lengths', 'tensor name of 64 bytes', setU64(bytes, t0.nameAt, 64), /tensor info 0: its string length 64 is over the limit of 63/);

  // Value types.
  const blockCount = kv('llama.block_count') as KvField;
  add('value types', 'block_count as float32', setU32(bytes, blockCount.typeAt, 6), /"llama\.block_count" is float32, expected an integer/);
  add('value types', 'value type 13', setU32(bytes, firstU32.typeAt, 13), /is 13, not a GGUF value type/);
  add('value types', 'value type 2^32-1', setU32(bytes, lastKv.typeAt, 0xffffffff), /is 4294967295, not a GGUF value type/);
  const bos = kv('tokenizer.ggml.bos_token_id');
  if (bos) add('value types', 'bos id as float32', setU32(bytes, bos.typeAt, 6), /"tokenizer\.ggml\.bos_token_id" is float32, expected an integer/);
  const eps = kv('llama.attention.layer_norm_rms_epsilon') as KvField;
  add('value types', 'eps as uint32', setU32(bytes, eps.typeAt, 4), /llama\.attention\.layer_norm_rms_epsilon is \d+, over the limit of 1/);
  add('value types', 'architecture as uint64', setU32(bytes, (kv('general.architecture') as KvField).typeAt, 10), /"general\.architecture" is uint64, expected a string/);

  // Hyperparameters (u32 and f32 values in place).
  const u32s: [string, number, RegExp][] = [
    ['llama.block_count', 1e9, /llama\.block_count is 1000000000, over the limit of 1024/],
    ['llama.block_count', 0, /llama\.block_count must be at least 1, got 0/],
    ['llama.block_count', 0xffffffff, /llama\.block_count is 4294967295, over the limit/],
    ['llama.embedding_length', 0, /llama\.embedding_length must be at least 1/],
    ['llama.embedding_length', 1e9, /llama\.embedding_length is 1000000000, over the limit/],
    ['llama.feed_forward_length', 0, /llama\.feed_forward_length must be at least 1/],
    ['llama.feed_forward_length', 0xffffffff, /llama\.feed_forward_length is 4294967295, over the limit/],
    ['llama.attention.head_count', 0, /llama\.attention\.head_count must be at least 1/],
    ['llama.attention.head_count', 1e6, /llama\.attention\.head_count is 1000000, over the limit/],
    ['llama.attention.head_count', 3, /head_count 3 is not a multiple of head_count_kv|tensor blk\.0\.attn_q\.weight has shape .* expected/],
    ['llama.attention.head_count_kv', 0, /llama\.attention\.head_count_kv must be at least 1/],
    ['llama.attention.head_count_kv', 3, /is not a multiple of head_count_kv 3|tensor blk\.0\.attn_k\.weight has shape .* expected/],
    ['llama.context_length', 0, /llama\.context_length must be at least 1/],
    ['llama.context_length', 0xffffffff, /llama\.context_length is 4294967295, over the limit/],
    ['llama.vocab_size', 0, /llama\.vocab_size must be at least 1, got 0/],
    ['llama.vocab_size', 1e9, /llama\.vocab_size is 1000000000, over the limit/],
    ['llama.attention.key_length', 0, /llama\.attention\.key_length must be at least 1/],
    ['llama.attention.key_length', 15, /value_length \d+ differs from key_length 15/],
    ['llama.rope.dimension_count', 8, /partial RoPE/],
    ['tokenizer.ggml.bos_token_id', 0xfffffffe, /tokenizer\.ggml\.bos_token_id 4294967294 is outside the vocabulary/],
    ['tokenizer.ggml.eos_token_id', 1e6, /tokenizer\.ggml\.eos_token_id 1000000 is outside the vocabulary/],
  ];
  const vocabKv = kv('llama.vocab_size');
  if (vocabKv) {
    const vocab = new DataView(bytes.buffer, bytes.byteOffset).getUint32(vocabKv.valueAt, true);
    u32s.push(['llama.vocab_size', vocab - 1, /token_embd\.weight has shape|tokenizer\.ggml\.tokens holds/]);
    u32s.push(['tokenizer.ggml.bos_token_id', vocab, new RegExp(`tokenizer\\.ggml\\.bos_token_id ${vocab} is outside the vocabulary of ${vocab} tokens`)]);
  }
  for (const [key, value, expect] of u32s) {
    const field = kv(key);
    if (field && field.type === 4) add('hyperparameters', `${key} = ${value}`, setU32(bytes, field.valueAt, value), expect);
  }
  const freqBase = kv('llama.rope.freq_base');
  for (const [value, text] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-1, 'positive'], [0, 'positive'], [2, 'over the limit of 1']] as const) {
    add('hyperparameters', `rms eps ${value}`, setF32(bytes, eps.valueAt, value), new RegExp(`layer_norm_rms_epsilon (must be a finite positive number, got ${text}|must be ${text}|is 2, ${text})`));
  }
  if (freqBase) {
    add('hyperparameters', 'freq_base Infinity', setF32(bytes, freqBase.valueAt, Infinity), /llama\.rope\.freq_base must be a finite positive number, got Infinity/);
    add('hyperparameters', 'freq_base 0', setF32(bytes, freqBase.valueAt, 0), /llama\.rope\.freq_base must be positive, got 0/);
    add('hyperparameters', 'freq_base 1e30', setF32(bytes, freqBase.valueAt, 1e30), /llama\.rope\.freq_base is [\d.e+]+, over the limit/);
  }

  // Tensor infos.
  const t1 = map.tensors[1];
  add('tensor infos', 'n_dims 0', setU32(bytes, t0.ndimsAt, 0), new RegExp(`tensor ${escape(t0.name)} has 0 dimensions`));
  add('tensor infos', 'n_dims 5', setU32(bytes, t0.ndimsAt, 5), new RegExp(`tensor ${escape(t0.name)} has 5 dimensions`));
  add('tensor infos', 'n_dims 2^31', setU32(bytes, t0.ndimsAt, 2 ** 31), /has 2147483648 dimensions/);
  add('tensor infos', 'dimension 0', setU64(bytes, t0.ndimsAt + 4, 0), new RegExp(`tensor ${escape(t0.name)}: dimension 0 is 0`));
  if (t0.ndims > 1) {
    add('tensor infos', 'dimension 2^32', setU64(bytes, t0.ndimsAt + 12, 2n ** 32n), /dimension 1 is 4294967296, over the limit of 2147483647/);
    add('tensor infos', 'dimension 2^40', setU64(bytes, t0.ndimsAt + 12, 2n ** 40n), /dimension 1 is 1099511627776, over the limit/);
    add('tensor infos', 'shape product overflow', patched(bytes, (v) => {
      v.setBigUint64(t0.ndimsAt + 4, BigInt(2 ** 31 - 256), true);
      v.setBigUint64(t0.ndimsAt + 12, BigInt(2 ** 31 - 1), true);
    }), /holds \d+(\.\d+)?(e\+\d+)? values, more than any file could hold/);
  }
  add('tensor infos', 'ggml type id 99', setU32(bytes, t0.typeAt, 99), /ggml type id 99, which is no ggml type/);
  add('tensor infos', 'ggml type IQ2_XXS', setU32(bytes, t0.typeAt, 16), /is IQ2_XXS, which is not supported/);
  add('tensor infos', 'ggml type Q5_0', setU32(bytes, t1.typeAt, 6), /is Q5_0, which is not supported/);
  add('tensor infos', 'offset not aligned', setU64(bytes, t1.offsetAt, t1.offset + 1), new RegExp(`tensor ${escape(t1.name)}: offset \\d+ is not a multiple of the alignment`));
  add('tensor infos', 'two tensors at one offset', setU64(bytes, t1.offsetAt, t0.offset), /overlaps tensor/);
  add('tensor infos', 'offset 2^40', setU64(bytes, last.offsetAt, 2n ** 40n), /truncated file: tensor .* ends at byte|belong to no tensor/);
  // A type id changed to one with larger or smaller blocks: the data overlap, or leave a gap.
  const larger: Partial<Record<GgmlType, GgmlType>> = { F16: 'F32', Q4_0: 'Q8_0', Q8_0: 'F16', Q6_K: 'Q8_0', F32: 'F32' };
  const notLast = map.tensors.filter((t) => t !== last);
  for (const t of notLast.filter((_, i) => i % 5 === 0)) {
    const to = larger[t.type];
    if (to && to !== t.type) {
      add('overlap', `${t.name} ${t.type} -> ${to}`, setU32(bytes, t.typeAt, GGML_TYPE_ID[to]),
        new RegExp(`overlaps tensor .*; the tensors fill the data section exactly if tensor ${escape(t.name)} is ${t.type}: its type ${to} does not match the layout`));
    }
  }
  const lastTo = larger[last.type];
  if (lastTo && lastTo !== last.type) {
    add('overlap', `last tensor ${last.name} ${last.type} -> ${lastTo}`, setU32(bytes, last.typeAt, GGML_TYPE_ID[lastTo]),
      new RegExp(`truncated file: tensor ${escape(last.name)} ends at byte \\d+, .*if tensor ${escape(last.name)} is ${last.type}: its type ${lastTo} does not match`));
  }
  const f32 = map.tensors.find((t) => t.type === 'F32' && t.bytes / 2 >= map.alignment && t !== last);
  if (f32) add('data layout', `${f32.name} F32 -> F16`, setU32(bytes, f32.typeAt, GGML_TYPE_ID.F16), new RegExp(`belong to no tensor .*if tensor ${escape(f32.name)} is F32: its type F16 does not match`));
  add('data layout', 'one alignment of extra bytes', concat(bytes, new Uint8Array(map.alignment)), /belong to no tensor/);
  add('data layout', '1 MiB of extra bytes', concat(bytes, new Uint8Array(1 << 20)), /belong to no tensor/);

  // Names.
  const attnK = map.tensors.find((t) => t.name === 'blk.0.attn_k.weight') as TensorField;
  add('names', 'duplicate tensor name', patched(bytes, (_, b) => b.set(new TextEncoder().encode('blk.0.attn_q.weight'), attnK.nameAt + 8)), /two tensors are named "blk\.0\.attn_q\.weight"/);
  add('names', 'tensor of a layer past block_count', patched(bytes, (_, b) => b.set(new TextEncoder().encode('blk.7'), attnK.nameAt + 8)), /tensor blk\.7\.attn_k\.weight belongs to layer 7, but llama\.block_count is 2/);
  add('names', 'unknown tensor', patched(bytes, (_, b) => b.set(new TextEncoder().encode('blk.0.attn_z'), attnK.nameAt + 8)), /unexpected tensor blk\.0\.attn_z\.weight/);
  add('names', 'control character in a tensor name', patched(bytes, (_, b) => (b[attnK.nameAt + 9] = 1)), /not a tensor name/);
  add('names', 'invalid UTF-8 in a key', patched(bytes, (_, b) => (b[firstU32.keyAt + 9] = 0xff)), /is not valid UTF-8 text/);
  const byLength = new Map<number, KvField>();
  for (const field of map.kvs) {
    const twin = byLength.get(field.key.length);
    if (twin) {
      add('names', `duplicate key ${twin.key}`, patched(bytes, (_, b) => b.set(new TextEncoder().encode(twin.key), field.keyAt + 8)), new RegExp(`metadata key "${escape(twin.key)}" appears twice`));
      break;
    }
    byLength.set(field.key.length, field);
  }

  // NaN and infinity in values and block scales.
  const seen = new Set<GgmlType>();
  for (const t of map.tensors) {
    if (seen.has(t.type)) continue;
    seen.add(t.type);
    const at = map.dataOffset + t.offset;
    const name = escape(t.name);
    if (t.type === 'F32' || t.type === 'F16' || t.type === 'BF16') {
      const width = t.type === 'F32' ? 4 : 2;
      const n = t.bytes / width;
      for (const [index, bits, text] of [[0, NAN_BITS[t.type], 'NaN'], [n - 1, t.type === 'F32' ? 0x7f800000 : t.type === 'F16' ? 0x7c00 : 0x7f80, 'Infinity'], [n >> 1, t.type === 'F32' ? 0xff800000 : t.type === 'F16' ? 0xfc00 : 0xff80, '-Infinity']] as const) {
        const mutated = width === 4 ? setU32(bytes, at + 4 * index, bits) : setU16(bytes, at + 2 * index, bits);
        add('NaN/Inf', `${t.name} value ${index} ${text}`, mutated, new RegExp(`tensor ${name}: value ${index} is ${text}`));
      }
    } else {
      const stride = blockBytes(t.type);
      const scaleAt = t.type === 'Q6_K' ? 208 : 0;
      const blocks = t.bytes / stride;
      for (const [block, bits, text] of [[0, 0x7e00, 'NaN'], [blocks - 1, 0x7c00, 'Infinity'], [blocks >> 1, 0xfc00, '-Infinity']] as const) {
        add('NaN/Inf', `${t.name} block ${block} scale ${text}`, setU16(bytes, at + block * stride + scaleAt, bits), new RegExp(`tensor ${name}: block ${block} has the scale d = ${text}`));
      }
    }
  }
  return out;
}

/** GGUF mutants made by re-encoding (alignment, missing and extra tensors, tokenizer arrays). */
async function ggufRewrites(base: Base): Promise<Mutant[]> {
  const bytes = base.files['model.gguf'];
  const out: Mutant[] = [];
  const add = (kind: string, name: string, mutated: Uint8Array, expect: RegExp) => out.push({ kind, name, base, files: { 'model.gguf': mutated }, expect });
  const header = await parseGgufHeader(bytes);

  // Written with alignment 64; general.alignment then changed to another value.
  const aligned = await reencode(bytes, { alignment: 64 });
  const alignedMap = await mapGguf(aligned);
  const alignKv = alignedMap.kvs.find((k) => k.key === 'general.alignment') as KvField;
  const relayout = Math.ceil(alignedMap.headerEnd / 32) * 32 !== alignedMap.dataOffset;
  add('alignment', 'declared 32, laid out at 64', setU32(aligned, alignKv.valueAt, 32), relayout ? /alignment/ : /./);
  if (!relayout) out.pop(); // the same layout under both: not broken
  // Under 128 the file is only broken when some offset or the data start moves.
  const breaks128 = alignedMap.tensors.some((t) => t.offset % 128 !== 0) || Math.ceil(alignedMap.headerEnd / 128) * 128 !== alignedMap.dataOffset;
  if (breaks128) add('alignment', 'declared 128, laid out at 64', setU32(aligned, alignKv.valueAt, 128), /not a multiple of the alignment 128|general\.alignment \(128\) does not match/);
  add('alignment', 'declared 48', setU32(aligned, alignKv.valueAt, 48), /general\.alignment 48 is not a power of two/);
  add('alignment', 'declared 0', setU32(aligned, alignKv.valueAt, 0), /general\.alignment 0 is not a power of two/);
  add('alignment', 'as float32', setU32(aligned, alignKv.typeAt, 6), /metadata key "general\.alignment" is float32, expected an integer/);

  // Tensors missing, extra, of the wrong shape.
  const layers = Number(header.metadata['llama.block_count']);
  add('model tensors', 'blk.1.ffn_down.weight removed', await reencode(bytes, { tensors: (t) => t.filter((x) => x.name !== 'blk.1.ffn_down.weight') }), /missing tensor blk\.1\.ffn_down\.weight/);
  add('model tensors', 'a layer past block_count', await reencode(bytes, {
    tensors: (t) => [...t, ...t.filter((x) => x.name.startsWith('blk.0.')).map((x) => ({ ...x, name: x.name.replace('blk.0.', `blk.${layers}.`) }))],
  }), new RegExp(`belongs to layer ${layers}, but llama\\.block_count is ${layers}`));
  add('model tensors', 'block_count one too large', await reencode(bytes, { metadata: (m) => (m['llama.block_count'] = ggufValue.u32(layers + 1)) }), new RegExp(`missing tensor blk\\.${layers}\\.`));
  add('model tensors', 'block_count 1e9 as uint64', await reencode(bytes, { metadata: (m) => (m['llama.block_count'] = ggufValue.u64(1e9)) }), /llama\.block_count is 1000000000, over the limit/);
  add('model tensors', 'block_count as a string', await reencode(bytes, { metadata: (m) => (m['llama.block_count'] = '2') }), /"llama\.block_count" is string, expected an integer/);
  add('model tensors', 'rope scaling factor Infinity (f64)', await reencode(bytes, {
    metadata: (m) => Object.assign(m, { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': ggufValue.f64(Infinity) }),
  }), /llama\.rope\.scaling\.factor must be a finite positive number, got Infinity/);
  add('model tensors', 'head_count_kv as a per-layer list', await reencode(bytes, {
    metadata: (m) => (m['llama.attention.head_count_kv'] = ggufValue.array('uint32', Array(layers).fill(2))),
  }), /"llama\.attention\.head_count_kv" is array<uint32>, expected an integer/);
  add('model tensors', 'split.count 3 in one file', await reencode(bytes, { metadata: (m) => Object.assign(m, { 'split.no': ggufValue.u16(0), 'split.count': ggufValue.u16(3) }) }),
    /GGUF: split\.count says the model has 3 parts, but 1 file was given/);
  add('model tensors', 'architecture qwen2', await reencode(bytes, { metadata: (m) => (m['general.architecture'] = 'qwen2') }), /unsupported architecture "qwen2"/);
  add('model tensors', 'no architecture', await reencode(bytes, { metadata: (m) => delete m['general.architecture'] }), /missing metadata key general\.architecture/);
  add('model tensors', 'output_norm.weight with 3 dims', await reencode(bytes, {
    tensors: (t) => t.map((x) => (x.name === 'output_norm.weight' ? { ...x, shape: [x.shape[0] / 2, 2, 1] } : x)),
  }), /tensor output_norm\.weight has shape \[\d+,2,1\], expected \[\d+\]/);

  // Tokenizer arrays (the base with a tokenizer).
  if ('tokenizer.ggml.tokens' in header.metadata) {
    const map = await mapGguf(bytes);
    const tokens = map.kvs.find((k) => k.key === 'tokenizer.ggml.tokens') as KvField;
    add('tokenizer', 'tokens: array of arrays', setU32(bytes, tokens.valueAt, 9), /"tokenizer\.ggml\.tokens" is array<array>, expected a string array|array of arrays/);
    add('tokenizer', 'tokens: array length 2^40', setU64(bytes, tokens.valueAt + 4, 2n ** 40n), /array length 1099511627776 is over the limit/);
    add('tokenizer', 'tokens: array length 10^6', setU64(bytes, tokens.valueAt + 4, 1e6), /1000000 strings run past the end of the file/);
    add('tokenizer', 'tokens: uint32 items', setU32(bytes, tokens.valueAt, 4), /"tokenizer\.ggml\.tokens" is array<uint32>, expected a string array/);
    add('tokenizer', 'an item length past the end', setU64(bytes, tokens.valueAt + 12, bytes.length), /tokenizer\.ggml\.tokens" item 0: its string length \d+ runs past the end/);
    const types = header.metadata['tokenizer.ggml.token_type'] as number[];
    add('tokenizer', 'token_type one short', await reencode(bytes, { metadata: (m) => (m['tokenizer.ggml.token_type'] = ggufValue.array('int32', types.slice(1))) }), /tokenizer\.ggml\.token_type must be a list of \d+ numbers/);
    const list = header.metadata['tokenizer.ggml.tokens'] as string[];
    add('tokenizer', 'tokens one short', await reencode(bytes, { metadata: (m) => (m['tokenizer.ggml.tokens'] = ggufValue.array('string', list.slice(1))) }), new RegExp(`tokenizer\\.ggml\\.tokens holds ${list.length - 1} tokens`));
    add('tokenizer', 'tokenizer model t5', await reencode(bytes, { metadata: (m) => (m['tokenizer.ggml.model'] = 't5') }), /tokenizer model "t5" is not supported/);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// safetensors mutants

interface SafetensorsParts {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  data: Uint8Array;
}

function splitSafetensors(bytes: Uint8Array): SafetensorsParts {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))), data: bytes.subarray(8 + length) };
}

function joinSafetensors(headerText: string, data: Uint8Array, length?: number): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function safetensorsMutants(base: Base): Mutant[] {
  const bytes = base.files['model.safetensors'];
  const configText = new TextDecoder().decode(base.files['config.json']);
  const config = JSON.parse(configText) as Record<string, unknown>;
  const out: Mutant[] = [];
  const add = (kind: string, name: string, files: Partial<ModelFiles>, expect: RegExp) => out.push({ kind, name, base, files: { ...base.files, ...files } as ModelFiles, expect });
  const weights = (mutated: Uint8Array) => ({ 'model.safetensors': mutated });
  const { header, data } = splitSafetensors(bytes);
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + length));
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const entry = (name: string) => header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  const byOffset = [...names].sort((a, b) => entry(a).data_offsets[0] - entry(b).data_offsets[0]);
  const matrix = names.find((n) => n.endsWith('gate_proj.weight')) as string;
  const lastName = byOffset[byOffset.length - 1];
  const withEntry = (name: string, change: (e: Record<string, unknown>) => void) => {
    const copy = JSON.parse(JSON.stringify(header));
    change(copy[name]);
    return joinSafetensors(JSON.stringify(copy), data);
  };

  // The header length.
  const lengthAt = (value: number | bigint) => patched(bytes, (v) => v.setBigUint64(0, BigInt(value), true));
  add('st header', 'header length 0', weights(lengthAt(0)), /header length 0 is outside/);
  add('st header', 'header length 1', weights(lengthAt(1)), /header length 1 is outside/);
  add('st header', 'header length 2^40', weights(lengthAt(2n ** 40n)), /header length 1099511627776 is outside/);
  add('st header', 'header length past the end', weights(lengthAt(bytes.length)), /truncated: header says \d+ bytes of JSON/);
  const padded = headerText.endsWith(' ');
  add('st header', 'header length one short', weights(lengthAt(length - 1)), padded ? /the data section .* has \d+ bytes, but its tensors cover/ : /not valid JSON/);
  add('st header', 'header length one long', weights(lengthAt(length + 1)), /the header length \d+ is wrong|truncated: tensor/);
  add('st header', 'a trailing space after the header', weights(joinSafetensors(`${headerText} `, data, length)), /the data section \(from byte \d+, after the header length \d+\) has \d+ bytes, but its tensors cover/);
  add('st header', 'not JSON', weights(joinSafetensors(headerText.replace(':', ';'), data)), /not valid JSON/);
  add('st header', 'a JSON list', weights(joinSafetensors(`[${headerText.slice(1, -1)}]`, data)), /does not start with "\{"/);
  add('st header', 'invalid UTF-8', weights(patched(bytes, (_, b) => (b[12] = 0xff))), /not UTF-8 text/);
  add('st header', '__metadata__ with a number', weights(joinSafetensors(JSON.stringify({ ...header, __metadata__: { format: 1 } }), data)), /__metadata__ "format" is not a string/);
  const twin = names.find((n) => n !== matrix && n.length === matrix.length) as string;
  add('st header', 'duplicate tensor name', weights(joinSafetensors(headerText.replace(`"${twin}"`, `"${matrix}"`), data)), new RegExp(`the header names "${escape(matrix)}" twice`));

  // Tensor entries.
  add('st entries', 'no dtype', weights(withEntry(matrix, (e) => delete e.dtype)), new RegExp(`tensor "${escape(matrix)}": no "dtype" field`));
  add('st entries', 'no data_offsets', weights(withEntry(matrix, (e) => delete e.data_offsets)), /no "data_offsets" field/);
  add('st entries', 'no shape', weights(withEntry(matrix, (e) => delete e.shape)), /no "shape" field/);
  add('st entries', 'entry a string', weights(joinSafetensors(JSON.stringify({ ...header, [matrix]: 'F32' }), data)), /entry is not an object/);
  add('st entries', 'dtype F12', weights(withEntry(matrix, (e) => (e.dtype = 'F12'))), /unsupported dtype "F12"/);
  add('st entries', 'dtype I32', weights(withEntry(matrix, (e) => (e.dtype = 'I32'))), new RegExp(`tensor ${escape(matrix)} is I32; model weights must be F32, F16, BF16`));
  add('st entries', 'dtype F16 for F32 bytes', weights(withEntry(matrix, (e) => (e.dtype = 'F16'))), /hold \d+ bytes, but F16 .* needs/);
  add('st entries', 'shape transposed', weights(withEntry(matrix, (e) => ((e.shape as number[]).reverse()))), /has shape \[.*\], but config\.json implies|has shape/);
  add('st entries', 'shape [-1]', weights(withEntry(matrix, (e) => (e.shape = [-1]))), /shape \[-1\] is not a list of non-negative integers/);
  add('st entries', 'shape product overflow', weights(withEntry(matrix, (e) => (e.shape = [2 ** 26, 2 ** 26, 2 ** 26]))), /more values than any file can hold/);
  add('st entries', 'offsets reversed', weights(withEntry(matrix, (e) => (e.data_offsets = [...(e.data_offsets as number[])].reverse()))), /data_offsets \[\d+,\d+\] is not \[begin, end\]/);
  add('st entries', 'offsets as strings', weights(withEntry(matrix, (e) => (e.data_offsets = (e.data_offsets as number[]).map(String)))), /data_offsets/);
  const second = byOffset[1];
  add('st entries', 'overlapping tensors', weights(withEntry(second, (e) => (e.data_offsets = (e.data_offsets as number[]).map((o) => o - 4)))), /overlaps tensor/);
  const shifted = withEntry(lastName, (e) => (e.data_offsets = (e.data_offsets as number[]).map((o) => o + 8)));
  add('st entries', 'a gap before the last tensor', weights(concat(shifted, new Uint8Array(8))), new RegExp(`data bytes \\d+\\.\\.\\d+ belong to no tensor \\(before tensor "${escape(lastName)}"\\)`));

  // The data section.
  add('st data', 'truncated by one byte', weights(bytes.slice(0, -1)), /truncated: tensor ".*" ends at data byte/);
  add('st data', 'truncated to half', weights(bytes.slice(0, bytes.length >> 1)), /truncated: tensor/);
  add('st data', 'one extra byte', weights(concat(bytes, new Uint8Array(1))), /but its tensors cover/);
  add('st data', 'a tensor of a layer past the count', weights(joinSafetensors(JSON.stringify({
    ...header, 'model.layers.99.input_layernorm.weight': { dtype: 'F32', shape: [1], data_offsets: [data.length, data.length + 4] },
  }), concat(data, new Uint8Array(4)))), /tensor model\.layers\.99\.input_layernorm\.weight belongs to layer 99, but config\.json has num_hidden_layers/);
  const f64 = (() => {
    const copy = JSON.parse(JSON.stringify(header));
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const name of byOffset) {
      const e = entry(name);
      const values = new Float32Array(data.slice(e.data_offsets[0], e.data_offsets[1]).buffer);
      const wide = new Uint8Array(Float64Array.from(values).buffer);
      copy[name] = { dtype: e.dtype === 'F32' ? 'F64' : e.dtype, shape: e.shape, data_offsets: [offset, offset + wide.length] };
      parts.push(wide);
      offset += wide.length;
    }
    const all = new Uint8Array(offset);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return joinSafetensors(JSON.stringify(copy), all);
  })();
  add('st data', 'every tensor F64', weights(f64), /is F64; model weights must be F32, F16, BF16/);

  // NaN and infinity.
  const at = (name: string, index: number) => 8 + length + entry(name).data_offsets[0] + 4 * index;
  const count = (name: string) => (entry(name).data_offsets[1] - entry(name).data_offsets[0]) / 4;
  for (const [name, index, value, text] of [
    [matrix, 0, NaN, 'NaN'], [matrix, count(matrix) - 1, Infinity, 'Infinity'], [lastName, count(lastName) >> 1, -Infinity, '-Infinity'], [byOffset[0], 3, NaN, 'NaN'],
  ] as const) {
    add('NaN/Inf', `${name} value ${index} ${text}`, weights(setF32(bytes, at(name, index), value)), new RegExp(`tensor ${escape(name)}: value ${index} is ${text}`));
  }

  // config.json.
  const withConfig = (change: Record<string, unknown>, text?: string) => ({ 'config.json': new TextEncoder().encode(text ?? JSON.stringify({ ...config, ...change })) });
  const layers = config.num_hidden_layers as number;
  const vocab = config.vocab_size as number;
  const configCases: [string, Record<string, unknown>, RegExp][] = [
    ['num_hidden_layers 1e9', { num_hidden_layers: 1e9 }, /num_hidden_layers is 1000000000, over the limit of 1024/],
    ['num_hidden_layers 0', { num_hidden_layers: 0 }, /num_hidden_layers must be at least 1, got 0/],
    ['num_hidden_layers -2', { num_hidden_layers: -2 }, /num_hidden_layers must be at least 1, got -2/],
    ['num_hidden_layers 2.5', { num_hidden_layers: 2.5 }, /num_hidden_layers must be an integer from 1 to 1024, got 2\.5/],
    ['num_hidden_layers "2"', { num_hidden_layers: '2' }, /num_hidden_layers must be an integer from 1 to 1024, got "2"/],
    ['num_hidden_layers one too few', { num_hidden_layers: layers - 1 }, layers === 1 ? /num_hidden_layers must be at least 1, got 0/ : new RegExp(`belongs to layer ${layers - 1}, but config\\.json has num_hidden_layers ${layers - 1}`)],
    ['num_hidden_layers one too many', { num_hidden_layers: layers + 1 }, new RegExp(`missing tensors? model\\.layers\\.${layers}\\.`)],
    ['no num_hidden_layers', { num_hidden_layers: undefined }, /missing required field "num_hidden_layers"/],
    ['hidden_size 1e12', { hidden_size: 1e12 }, /hidden_size is 1000000000000, over the limit/],
    ['intermediate_size 0', { intermediate_size: 0 }, /intermediate_size must be at least 1/],
    ['vocab_size 0', { vocab_size: 0 }, /vocab_size must be at least 1, got 0/],
    ['vocab_size 1e9', { vocab_size: 1e9 }, /vocab_size is 1000000000, over the limit/],
    ['vocab_size one smaller', { vocab_size: vocab - 1 }, /(model\.embed_tokens|lm_head)\.weight has shape/],
    ['num_attention_heads 1e6', { num_attention_heads: 1e6 }, /num_attention_heads is 1000000, over the limit/],
    ['num_key_value_heads 3', { num_key_value_heads: 3 }, /is not a multiple of num_key_value_heads 3|k_proj\.weight has shape .* but config\.json implies/],
    ['head_dim 7', { head_dim: 7 }, /head_dim 7 must be even/],
    ['rope factor 1e400', { rope_parameters: { rope_type: 'linear', factor: 'X', rope_theta: 10000 } }, /rope_parameters\.factor must be a finite positive number, got Infinity/],
    ['rope_theta -1', { rope_parameters: undefined, rope_scaling: null, rope_theta: -1 }, /rope_theta must be positive, got -1/],
    ['rope_theta "x"', { rope_parameters: { rope_theta: 'x' } }, /rope_theta must be a finite positive number, got "x"/],
    ['rms_norm_eps 0', { rms_norm_eps: 0 }, /rms_norm_eps must be positive, got 0/],
    ['rms_norm_eps 5', { rms_norm_eps: 5 }, /rms_norm_eps is 5, over the limit of 1/],
    ['bos_token_id = vocab_size', { bos_token_id: vocab }, new RegExp(`bos_token_id ${vocab} is outside the vocabulary`)],
    ['an eos id outside the vocabulary', { eos_token_id: [2, vocab + 5] }, new RegExp(`eos_token_id ${vocab + 5} is outside the vocabulary`)],
    ['max_position_embeddings 1e12', { max_position_embeddings: 1e12 }, /max_position_embeddings is 1000000000000, over the limit/],
    ['tie_word_embeddings "yes"', { tie_word_embeddings: 'yes' }, /tie_word_embeddings must be a boolean, got "yes"/],
    ['architecture GPT2', { architectures: ['GPT2LMHeadModel'], model_type: undefined }, /unsupported architecture GPT2LMHeadModel/],
    ['hidden_act gelu', { hidden_act: 'gelu' }, /unsupported hidden_act "gelu"/],
  ];
  for (const [name, change, expect] of configCases) {
    const text = name === 'rope factor 1e400' ? JSON.stringify({ ...config, ...change }).replace('"X"', '1e400') : undefined;
    add('config', name, withConfig(change, text), expect);
  }
  add('config', 'not JSON', withConfig({}, configText.slice(0, -2)), /config\.json: (is )?not valid JSON/);
  add('config', 'a JSON list', withConfig({}, '[1, 2]'), /config\.json: (is )?not a JSON object/);
  return out;
}

/**
 * How many bases of a format each class is drawn from (every base when absent): the classes whose mutants do not
 * depend on the tensor type are taken from fewer bases, which keeps the test within its time.
 */
const BASES_PER_CLASS: Record<string, number> = {
  'magic/version': 2, counts: 4, lengths: 4, 'value types': 3, hyperparameters: 3, alignment: 3, 'model tensors': 3,
  'st header': 3, 'st entries': 3, 'st data': 3, config: 2,
};

/** Every mutant of the bases (each class from the bases BASES_PER_CLASS spreads it over), in a fixed order. */
export async function malformedModels(bases: Base[]): Promise<Mutant[]> {
  const out: Mutant[] = [];
  for (const base of bases) {
    const sameFormat = bases.filter((b) => b.format === base.format);
    const index = sameFormat.indexOf(base);
    const drawn = (m: Mutant) => index % Math.ceil(sameFormat.length / (BASES_PER_CLASS[m.kind] ?? sameFormat.length)) === 0;
    const mutants = base.format === 'gguf' ? [...(await ggufMutants(base)), ...(await ggufRewrites(base))] : safetensorsMutants(base);
    out.push(...mutants.filter(drawn));
  }
  return out;
}

/** Valid variants that must load, each with the warning it must give (a default taken). */
export async function validVariants(bases: Base[]): Promise<{ name: string; base: Base; files: ModelFiles; warning: RegExp }[]> {
  const gguf = bases.find((b) => b.format === 'gguf') as Base;
  const st = bases.find((b) => b.format === 'safetensors') as Base;
  const config = JSON.parse(new TextDecoder().decode(st.files['config.json'])) as Record<string, unknown>;
  const withoutKey = async (key: string) => ({ 'model.gguf': await reencode(gguf.files['model.gguf'], { metadata: (m) => delete m[key] }) });
  const withoutField = (field: string) => ({ ...st.files, 'config.json': new TextEncoder().encode(JSON.stringify({ ...config, [field]: undefined })) });
  return [
    { name: 'no llama.rope.freq_base', base: gguf, files: await withoutKey('llama.rope.freq_base'), warning: /llama\.rope\.freq_base is absent: 10000 assumed/ },
    { name: 'no BOS id', base: gguf, files: await withoutKey('tokenizer.ggml.bos_token_id'), warning: /tokenizer\.ggml\.bos_token_id is absent: the model has no BOS token/ },
    {
      name: "BOS id llama.cpp's no-token (-1 as uint32)", base: gguf,
      files: { 'model.gguf': await reencode(gguf.files['model.gguf'], { metadata: (m) => void (m['tokenizer.ggml.bos_token_id'] = { type: 'uint32', value: 0xffffffff }) }) },
      warning: /tokenizer\.ggml\.bos_token_id is 4294967295 \(llama\.cpp's "no token"\): the model has no BOS token/,
    },
    { name: 'no rope_freqs or scaling keys', base: gguf, files: gguf.files, warning: /RoPE is not scaled/ },
    { name: 'no rms_norm_eps', base: st, files: withoutField('rms_norm_eps'), warning: /config\.json has no rms_norm_eps: 0\.000001 assumed|no rms_norm_eps: 1e-6 assumed/ },
    { name: 'no rope parameters', base: st, files: withoutField('rope_parameters'), warning: /no rope_theta: 10000 assumed/ },
    { name: 'no max_position_embeddings', base: st, files: withoutField('max_position_embeddings'), warning: /config\.json has no max_position_embeddings: 2048 assumed/ },
  ];
}
