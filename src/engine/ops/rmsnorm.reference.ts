// CPU reference of kernels/rmsnorm.wgsl in float64, shared by its test and the kernel benchmark.

/** y = x * rstd * w row by row, rstd = 1 / sqrt(mean(x^2) + eps). */
export function rmsnormForwardRef(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const y = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  for (let n = 0; n < rows; n++) {
    let sumSq = 0;
    for (let d = 0; d < dim; d++) sumSq += x[n * dim + d] ** 2;
    rstd[n] = 1 / Math.sqrt(sumSq / dim + eps);
    for (let d = 0; d < dim; d++) y[n * dim + d] = x[n * dim + d] * rstd[n] * w[d];
  }
  return { y, rstd };
}

/** dx of L = sum(dy * y): rstd * (dy w - x rstd^2 mean(dy w x)). */
export function rmsnormBackwardRef(
  dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rstd: ArrayLike<number>, rows: number, dim: number,
): Float64Array {
  const dx = new Float64Array(rows * dim);
  for (let n = 0; n < rows; n++) {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += dy[n * dim + d] * w[d] * x[n * dim + d];
    const c = (dot / dim) * rstd[n] ** 2;
    for (let d = 0; d < dim; d++) dx[n * dim + d] = rstd[n] * (dy[n * dim + d] * w[d] - x[n * dim + d] * c);
  }
  return dx;
}

/** dweight[d] = sum_n dy[n, d] * x[n, d] * rstd[n]. */
export function rmsnormWeightGradRef(dy: ArrayLike<number>, x: ArrayLike<number>, rstd: ArrayLike<number>, rows: number, dim: number) {
  const dw = new Float64Array(dim);
  for (let n = 0; n < rows; n++) for (let d = 0; d < dim; d++) dw[d] += dy[n * dim + d] * x[n * dim + d] * rstd[n];
  return dw;
}
