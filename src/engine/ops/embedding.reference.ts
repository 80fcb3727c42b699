// CPU reference of kernels/embedding.wgsl, shared by its test and the kernel benchmark.

/** out[n, :] = table[ids[n], :]; an id >= vocab gives a zero row. */
export function embeddingForwardRef(ids: Uint32Array, table: Float32Array, vocab: number, dim: number): Float32Array {
  const out = new Float32Array(ids.length * dim);
  ids.forEach((token, n) => {
    if (token < vocab) out.set(table.subarray(token * dim, (token + 1) * dim), n * dim);
  });
  return out;
}

/** dTable0 + the sum of dOut[n, :] into row ids[n], for every n. */
export function embeddingBackwardRef(ids: Uint32Array, dOut: Float32Array, dTable0: Float32Array, dim: number): Float32Array {
  const dTable = dTable0.slice();
  ids.forEach((token, n) => {
    for (let d = 0; d < dim; d++) dTable[token * dim + d] += dOut[n * dim + d];
  });
  return dTable;
}
