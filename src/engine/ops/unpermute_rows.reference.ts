// CPU reference of kernels/unpermute_rows.wgsl, shared by its test and the kernel benchmark. It undoes what
// llama.cpp's converter does to the rows of q_proj and k_proj: each head's rows, viewed as [2, headDim / 2],
// are stored transposed, as [headDim / 2, 2].

/** The rows of `bytes` (rows of equal size, in llama.cpp's order) in HF's order. */
export function unpermuteQkRowsRef(bytes: Uint8Array, rows: number, heads: number): Uint8Array {
  const rowBytes = bytes.length / rows;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Uint8Array(bytes.length);
  for (let h = 0; h < heads; h++) {
    for (let pair = 0; pair < 2; pair++) {
      for (let i = 0; i < half; i++) {
        const hfRow = h * headDim + pair * half + i;
        const storedRow = h * headDim + 2 * i + pair;
        out.set(bytes.subarray(storedRow * rowBytes, (storedRow + 1) * rowBytes), hfRow * rowBytes);
      }
    }
  }
  return out;
}
