// CPU reference of kernels/half.wgsl: f32 -> f16 -> f32 rounding (to nearest, ties to even), clamped to f16's
// finite range as the kernel clamps. Written out because Float16Array is not in every Node this project runs on.

export const F16_MAX = 65504;

/** The f16 value nearest to x (ties to even), after clamping to +-65504; NaN stays NaN. */
export function roundToF16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const clamped = Math.min(F16_MAX, Math.max(-F16_MAX, x));
  const a = Math.abs(clamped);
  if (a === 0) return clamped;
  // Spacing of f16 values around a: 2^(e - 10) for normals (e = floor(log2 a), at least -14), 2^-24 below.
  const e = Math.max(-14, exponentOf(a));
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let n = Math.floor(q);
  const rest = q - n;
  if (rest > 0.5 || (rest === 0.5 && n % 2 === 1)) n += 1;
  return Math.sign(clamped) * n * ulp;
}

/** Distance between consecutive f16 values at |x|, the kernel's allowed rounding error (WGSL may round either way). */
export function f16Spacing(x: number): number {
  const a = Math.min(F16_MAX, Math.abs(x));
  return a === 0 ? 2 ** -24 : 2 ** (Math.max(-14, exponentOf(a)) - 10);
}

/** floor(log2 a) for a > 0, exact at powers of two. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/** The value of the f16 with these 16 bits (IEEE binary16). */
export function f16FromBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** What pack then unpack gives back. */
export function halfRoundTripRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, roundToF16);
}
