// CPU reference of kernels/rope.wgsl, shared by its test and the kernel benchmark.

/** Rotate-half RoPE in float64 from the f32 angle the kernel forms: sign -1 is the backward (inverse) rotation. */
export function ropeRef(
  x: Float32Array, invFreq: Float32Array, rows: number, seqLen: number, heads: number, headDim: number, sign: 1 | -1,
): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(x.length);
  for (let n = 0; n < rows; n++) {
    for (let d = 0; d < half; d++) {
      const angle = Math.fround((n % seqLen) * invFreq[d]);
      const c = Math.cos(angle);
      const s = sign * Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const i = n * heads * headDim + h * headDim + d;
        const x1 = x[i];
        const x2 = x[i + half];
        out[i] = x1 * c - x2 * s;
        out[i + half] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}
