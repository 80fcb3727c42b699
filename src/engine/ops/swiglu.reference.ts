// CPU reference of kernels/swiglu.wgsl in float64, shared by its test and the kernel benchmark.

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));
export const silu = (g: number) => g * sigmoid(g);
export const siluGrad = (g: number) => sigmoid(g) * (1 + g * (1 - sigmoid(g)));

/** out = silu(gate) * up. */
export function swigluForwardRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from(gate, (g, i) => silu(g) * up[i]);
}

/** dGate and dUp of L = sum(dOut * out). */
export function swigluBackwardRef(dOut: ArrayLike<number>, gate: ArrayLike<number>, up: ArrayLike<number>) {
  return {
    dGate: Float64Array.from(gate, (g, i) => dOut[i] * up[i] * siluGrad(g)),
    dUp: Float64Array.from(gate, (g, i) => dOut[i] * silu(g)),
  };
}
