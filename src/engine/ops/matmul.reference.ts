// CPU reference of kernels/matmul.wgsl, shared by its test, the quantized matmul's reference and the kernel
// benchmark.

/** C = alpha op(A) op(B) + beta C, with A/B stored transposed when asked; sums in float64. */
export function matmulRef(
  a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, M: number, N: number, K: number,
  transA: boolean, transB: boolean, alpha: number, beta: number,
): Float32Array {
  const out = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[k * M + i] : a[i * K + k];
        const bv = transB ? b[j * K + k] : b[k * N + j];
        sum += av * bv;
      }
      out[i * N + j] = alpha * sum + beta * c[i * N + j];
    }
  }
  return out;
}
