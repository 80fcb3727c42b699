// CPU reference of kernels/fill.wgsl, shared by its test and the kernel benchmark.

/** The kernel's counter-based hash, in u32 arithmetic. */
function hash(v: number): number {
  let h = v >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** What fillUniform writes: offset + scale * u, u uniform in [-1, 1) from the hash of (seed, i). */
export function fillUniformRef(count: number, seed: number, scale: number, offset = 0): Float32Array {
  const seedHash = hash(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = (hash(i ^ seedHash) >>> 8) / 8388608 - 1;
    out[i] = Math.fround(offset + Math.fround(scale * u));
  }
  return out;
}
