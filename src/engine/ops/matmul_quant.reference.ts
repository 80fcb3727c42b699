// CPU reference of kernels/matmul_quant.wgsl, shared by its test, the quantize test and the kernel benchmark:
// the f64 matmul on the weight's exact values, as dequantize() (src/engine/ggml.ts) decodes its GGML blocks.
import { matmulRef } from './matmul.reference';

/** y [rows, out] = beta y0 + x [rows, in] W^T, with w the values of W [out, in]. */
export function quantMatmulForwardRef(
  x: ArrayLike<number>, w: ArrayLike<number>, y0: ArrayLike<number>, rows: number, out: number, inF: number, beta: number,
): Float32Array {
  return matmulRef(x, w, y0, rows, out, inF, false, true, 1, beta);
}

/** dx [rows, in] = beta dx0 + dy [rows, out] W, with w the values of W [out, in]. */
export function quantMatmulBackwardRef(
  dy: ArrayLike<number>, w: ArrayLike<number>, dx0: ArrayLike<number>, rows: number, out: number, inF: number, beta: number,
): Float32Array {
  return matmulRef(dy, w, dx0, rows, inF, out, false, false, 1, beta);
}
