// CPU reference of kernels/grad_norm.wgsl, shared by its test and the kernel benchmark.

/** Float64 L2 norm of f32 values. */
export function gradNormRef(grads: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < grads.length; i++) sum += grads[i] * grads[i];
  return Math.sqrt(sum);
}

/** torch's clip_grad_norm_ coefficient; 1 when maxNorm <= 0 or Infinity (no clipping). */
export function clipCoefficientRef(norm: number, maxNorm: number): number {
  return maxNorm > 0 && Number.isFinite(maxNorm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}
