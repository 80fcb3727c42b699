// Deterministic files for the source tests, built the same way in Node (the test server) and in the browser.
import { mulberry32 } from '../../util/random';

/** `size` pseudo-random bytes. */
export function fixtureBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const next = mulberry32(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** Tensors of odd byte lengths at unaligned offsets (U8), so that uploads must handle 4-byte alignment. */
export const FIXTURE_TENSORS: readonly { name: string; bytes: number }[] = [
  { name: 'a.odd', bytes: 4099 },
  { name: 'b.tiny', bytes: 3 },
  { name: 'c.empty', bytes: 0 },
  { name: 'd.big', bytes: 150_001 },
  { name: 'e.aligned', bytes: 4096 },
  { name: 'f.last', bytes: 70_001 },
];

/** A safetensors file holding FIXTURE_TENSORS, with a header that leaves the data section unaligned. */
export function fixtureSafetensors(seed = 7): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const { name, bytes } of FIXTURE_TENSORS) {
    header[name] = { dtype: 'U8', shape: [bytes], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  if ((8 + json.length) % 4 === 0) json += ' ';
  const jsonBytes = new TextEncoder().encode(json);
  const file = new Uint8Array(8 + jsonBytes.length + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  file.set(jsonBytes, 8);
  file.set(fixtureBytes(offset, seed), 8 + jsonBytes.length);
  return file;
}
