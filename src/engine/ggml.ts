// GGML tensor types as GGUF stores them: block layouts, a CPU dequantizer that reproduces ggml's, and an
// encoder for every type (so tests can write tensors of any type). All multi-byte fields are little-endian.
//
// Block layouts (bytes):
//   Q8_0  (32 values, 34):  d f16 | qs int8[32]                         x = q * d
//   Q4_0  (32 values, 18):  d f16 | qs u8[16]                           x = (q - 8) * d
//   Q4_1  (32 values, 20):  d f16 | m f16 | qs u8[16]                   x = q * d + m
//         value j < 16 is the low nibble of qs[j], value j + 16 its high nibble.
//   Q4_K  (256 values, 144): d f16 | dmin f16 | scales u8[12] | qs u8[128]
//   Q5_K  (256 values, 176): d f16 | dmin f16 | scales u8[12] | qh u8[32] | qs u8[128]
//         8 sub-blocks of 32 with 6-bit scale s and min m: x = d*s*q - dmin*m. Value 64c + l (l < 32) is
//         the low nibble of qs[32c + l], value 64c + 32 + l its high nibble; Q5_K adds bit 2c (resp.
//         2c + 1) of qh[l] as the quant's fifth bit.
//   Q6_K  (256 values, 210): ql u8[128] | qh u8[64] | scales int8[16] | d f16
//         16 sub-blocks of 16 with 8-bit scale s: x = d*s*(q - 32); see q6kIndex for where q's bits are.

export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export const GGML_TYPES: readonly GgmlType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q4_K', 'Q5_K', 'Q6_K'];

/** The numeric type ids of ggml's `enum ggml_type`, as written in GGUF tensor infos. */
export const GGML_TYPE_ID: Record<GgmlType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 8,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
};

/** The type of a GGUF type id, or null for ids this code does not read. */
export function ggmlTypeFromId(id: number): GgmlType | null {
  for (const type of GGML_TYPES) if (GGML_TYPE_ID[type] === id) return type;
  return null;
}

const QK_K = 256;

/** Elements per block. */
export function blockSize(type: GgmlType): number {
  switch (type) {
    case 'F32':
    case 'F16':
    case 'BF16':
      return 1;
    case 'Q8_0':
    case 'Q4_0':
    case 'Q4_1':
      return 32;
    case 'Q4_K':
    case 'Q5_K':
    case 'Q6_K':
      return QK_K;
  }
}

/** Bytes per block. */
export function blockBytes(type: GgmlType): number {
  switch (type) {
    case 'F32':
      return 4;
    case 'F16':
    case 'BF16':
      return 2;
    case 'Q8_0':
      return 34;
    case 'Q4_0':
      return 18;
    case 'Q4_1':
      return 20;
    case 'Q4_K':
      return 144;
    case 'Q5_K':
      return 176;
    case 'Q6_K':
      return 210;
  }
}

/** Bytes of a tensor of `elements` values (a whole number of blocks). */
export function tensorBytes(type: GgmlType, elements: number): number {
  const size = blockSize(type);
  if (!Number.isInteger(elements) || elements < 0 || elements % size !== 0) {
    throw new Error(`${type} stores values in blocks of ${size}; ${elements} values are not a whole number of blocks`);
  }
  return (elements / size) * blockBytes(type);
}

// ---------------------------------------------------------------------------------------------------------
// 16-bit floats

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32Bits(value: number): number {
  f32Scratch[0] = value;
  return u32Scratch[0];
}

function fromF32Bits(bits: number): number {
  u32Scratch[0] = bits;
  return f32Scratch[0];
}

/** IEEE half-precision bits of a value, rounded to nearest even (overflow gives infinity). */
export function f32ToF16Bits(value: number): number {
  const x = f32Bits(value);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    // Subnormal: value / 2^-24 = (mantissa | implicit bit) >> (14 - e), rounded.
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++; // a carry may reach infinity: right
  return sign | half;
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exp === 0) return sign * mantissa * 2 ** -24;
  if (exp === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exp - 15);
}

/** The value rounded to half precision. */
export function roundToF16(value: number): number {
  return f16BitsToF32(f32ToF16Bits(value));
}

/** bfloat16 bits of a value (the top half of its f32 bits), rounded to nearest even. */
export function f32ToBf16Bits(value: number): number {
  const x = f32Bits(value);
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // NaN stays NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  return fromF32Bits((bits & 0xffff) << 16);
}

// ---------------------------------------------------------------------------------------------------------
// Dequantization (as ggml's dequantize_row_*: products rounded to f32 in the same order)

const fr = Math.fround;

/** Values of a tensor of `elements` values stored as `type`. */
export function dequantize(type: GgmlType, bytes: Uint8Array, elements: number): Float32Array {
  const need = tensorBytes(type, elements);
  if (bytes.byteLength < need) throw new Error(`${type}: ${elements} values need ${need} bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(elements);
  const blocks = elements / blockSize(type);
  const stride = blockBytes(type);
  for (let b = 0; b < blocks; b++) {
    const o = b * stride;
    const y = out.subarray(b * blockSize(type));
    switch (type) {
      case 'F32':
        y[0] = view.getFloat32(o, true);
        break;
      case 'F16':
        y[0] = f16BitsToF32(view.getUint16(o, true));
        break;
      case 'BF16':
        y[0] = bf16BitsToF32(view.getUint16(o, true));
        break;
      case 'Q8_0': {
        const d = f16BitsToF32(view.getUint16(o, true));
        for (let j = 0; j < 32; j++) y[j] = fr(view.getInt8(o + 2 + j) * d);
        break;
      }
      case 'Q4_0': {
        const d = f16BitsToF32(view.getUint16(o, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j];
          y[j] = fr(((q & 15) - 8) * d);
          y[j + 16] = fr(((q >> 4) - 8) * d);
        }
        break;
      }
      case 'Q4_1': {
        const d = f16BitsToF32(view.getUint16(o, true));
        const m = f16BitsToF32(view.getUint16(o + 2, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 4 + j];
          y[j] = fr(fr((q & 15) * d) + m);
          y[j + 16] = fr(fr((q >> 4) * d) + m);
        }
        break;
      }
      case 'Q4_K':
      case 'Q5_K': {
        const d = f16BitsToF32(view.getUint16(o, true));
        const dmin = f16BitsToF32(view.getUint16(o + 2, true));
        const scales = bytes.subarray(o + 4, o + 16);
        const five = type === 'Q5_K';
        const qh = five ? o + 16 : 0;
        const qs = o + (five ? 48 : 16);
        for (let sub = 0; sub < 8; sub++) {
          const [s, m] = kScaleMin(scales, sub);
          const d1 = fr(d * s);
          const m1 = fr(dmin * m);
          const chunk = sub >> 1;
          const high = sub & 1;
          for (let l = 0; l < 32; l++) {
            const byte = bytes[qs + 32 * chunk + l];
            let q = high ? byte >> 4 : byte & 15;
            if (five && (bytes[qh + l] >> sub) & 1) q += 16;
            y[32 * sub + l] = fr(fr(d1 * q) - m1);
          }
        }
        break;
      }
      case 'Q6_K': {
        const d = f16BitsToF32(view.getUint16(o + 208, true));
        for (let j = 0; j < QK_K; j++) {
          const { ql, qlShift, qh, qhShift } = q6kIndex(j);
          const q = ((bytes[o + ql] >> qlShift) & 15) | (((bytes[o + 128 + qh] >> qhShift) & 3) << 4);
          const s = view.getInt8(o + 192 + (j >> 4));
          y[j] = fr(fr(d * s) * (q - 32));
        }
        break;
      }
    }
  }
  return out;
}

/** The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block from its 12 packed bytes. */
export function kScaleMin(scales: Uint8Array, j: number): [number, number] {
  if (j < 4) return [scales[j] & 63, scales[j + 4] & 63];
  return [(scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4), (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)];
}

/** Packs eight 6-bit scales and mins into the 12 bytes kScaleMin reads. */
export function packKScales(scales: ArrayLike<number>, mins: ArrayLike<number>): Uint8Array {
  const packed = new Uint8Array(12);
  for (let j = 0; j < 4; j++) {
    packed[j] = (scales[j] & 63) | ((scales[j + 4] >> 4) << 6);
    packed[j + 4] = (mins[j] & 63) | ((mins[j + 4] >> 4) << 6);
    packed[j + 8] = (scales[j + 4] & 15) | ((mins[j + 4] & 15) << 4);
  }
  return packed;
}

/**
 * Where value j (0..255) of a Q6_K block keeps its quant: the low 4 bits in byte ql (0..127) at qlShift,
 * the high 2 bits in byte qh (0..63, after ql) at qhShift. Values come in two halves of 128, each as four
 * runs of 32 that share ql bytes pairwise (runs 0 and 2, 1 and 3) and qh bytes all four.
 */
export function q6kIndex(j: number): { ql: number; qlShift: number; qh: number; qhShift: number } {
  const half = j >> 7;
  const run = (j >> 5) & 3;
  const l = j & 31;
  return { ql: 64 * half + 32 * (run & 1) + l, qlShift: run >= 2 ? 4 : 0, qh: 32 * half + l, qhShift: 2 * run };
}

// ---------------------------------------------------------------------------------------------------------
// Quantization

/** C's roundf: halves away from zero. */
export function roundHalfAway(x: number): number {
  const a = Math.abs(x);
  let r = Math.floor(a);
  if (a - r >= 0.5) r += 1;
  return x < 0 ? -r : r;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** The smallest half-precision value >= x (x >= 0), as a float. */
function f16AtLeast(x: number): number {
  let bits = f32ToF16Bits(x);
  if (f16BitsToF32(bits) < x) bits++;
  return f16BitsToF32(bits);
}

/** Encodes values as `type` (values.length must be a whole number of blocks). */
export function quantize(type: GgmlType, values: Float32Array): Uint8Array {
  const out = new Uint8Array(tensorBytes(type, values.length));
  const view = new DataView(out.buffer);
  const size = blockSize(type);
  const stride = blockBytes(type);
  for (let b = 0; b < values.length / size; b++) {
    const x = values.subarray(b * size, (b + 1) * size);
    const o = b * stride;
    switch (type) {
      case 'F32':
        view.setFloat32(o, x[0], true);
        break;
      case 'F16':
        view.setUint16(o, f32ToF16Bits(x[0]), true);
        break;
      case 'BF16':
        view.setUint16(o, f32ToBf16Bits(x[0]), true);
        break;
      case 'Q8_0':
        quantizeQ8_0Block(x, out, o);
        break;
      case 'Q4_0':
        quantizeQ4_0Block(x, out, o);
        break;
      case 'Q4_1':
        quantizeQ4_1Block(x, out, o);
        break;
      case 'Q4_K':
        quantizeQ4KOrQ5KBlock(x, out, o, 15);
        break;
      case 'Q5_K':
        quantizeQ4KOrQ5KBlock(x, out, o, 31);
        break;
      case 'Q6_K':
        quantizeQ6KBlock(x, out, o);
        break;
    }
  }
  return out;
}

function setF16(out: Uint8Array, offset: number, value: number): void {
  const bits = f32ToF16Bits(value);
  out[offset] = bits & 0xff;
  out[offset + 1] = bits >> 8;
}

/** As ggml: d = amax / 127, q = roundf(x / d). The GPU quantizer (kernels/quantize.wgsl) does the same. */
function quantizeQ8_0Block(x: Float32Array, out: Uint8Array, o: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]));
  const d = fr(amax / 127);
  const id = d !== 0 ? fr(1 / d) : 0;
  setF16(out, o, d);
  for (let j = 0; j < 32; j++) out[o + 2 + j] = roundHalfAway(fr(x[j] * id)) & 0xff;
}

/** As ggml: d = (the value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)). */
function quantizeQ4_0Block(x: Float32Array, out: Uint8Array, o: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    if (Math.abs(x[j]) > amax) {
      amax = Math.abs(x[j]);
      max = x[j];
    }
  }
  const d = fr(max / -8);
  const id = d !== 0 ? fr(1 / d) : 0;
  setF16(out, o, d);
  const q = (v: number) => Math.min(15, Math.trunc(fr(fr(v * id) + 8.5)));
  for (let j = 0; j < 16; j++) out[o + 2 + j] = q(x[j]) | (q(x[j + 16]) << 4);
}

/** As ggml: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)). */
function quantizeQ4_1Block(x: Float32Array, out: Uint8Array, o: number): void {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < 32; j++) {
    min = Math.min(min, x[j]);
    max = Math.max(max, x[j]);
  }
  const d = fr((max - min) / 15);
  const id = d !== 0 ? fr(1 / d) : 0;
  setF16(out, o, d);
  setF16(out, o + 2, min);
  const q = (v: number) => Math.min(15, Math.trunc(fr(fr(fr(v - min) * id) + 0.5)));
  for (let j = 0; j < 16; j++) out[o + 4 + j] = q(x[j]) | (q(x[j + 16]) << 4);
}

/**
 * Q4_K (levels 15) and Q5_K (levels 31): per sub-block of 32 a range [min(0, lo), hi], its scale and min
 * quantized to 6 bits against the block's d and dmin (rounded up, so the grid still covers the range),
 * then each value rounded onto that grid.
 */
function quantizeQ4KOrQ5KBlock(x: Float32Array, out: Uint8Array, o: number, levels: 15 | 31): void {
  const lows = new Float64Array(8); // -min(0, lo) >= 0: what the block subtracts
  const his = new Float64Array(8);
  for (let sub = 0; sub < 8; sub++) {
    let lo = 0;
    let hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      lo = Math.min(lo, x[32 * sub + l]);
      hi = Math.max(hi, x[32 * sub + l]);
    }
    lows[sub] = -lo;
    his[sub] = hi;
  }
  const dmin = f16AtLeast(Math.max(...lows) / 63);
  const mins = new Uint8Array(8);
  const minValues = new Float64Array(8);
  for (let sub = 0; sub < 8; sub++) {
    mins[sub] = dmin > 0 ? clamp(Math.ceil(lows[sub] / dmin), 0, 63) : 0;
    minValues[sub] = fr(dmin * mins[sub]);
  }
  const steps = his.map((hi, sub) => Math.max(0, (hi + minValues[sub]) / levels));
  const d = f16AtLeast(Math.max(...steps) / 63);
  const scales = new Uint8Array(8);
  for (let sub = 0; sub < 8; sub++) scales[sub] = d > 0 ? clamp(Math.ceil(steps[sub] / d), 0, 63) : 0;
  setF16(out, o, d);
  setF16(out, o + 2, dmin);
  out.set(packKScales(scales, mins), o + 4);
  const five = levels === 31;
  const qh = o + 16;
  const qs = o + (five ? 48 : 16);
  for (let sub = 0; sub < 8; sub++) {
    const step = fr(d * scales[sub]);
    for (let l = 0; l < 32; l++) {
      const q = step > 0 ? clamp(Math.round((x[32 * sub + l] + minValues[sub]) / step), 0, levels) : 0;
      const chunk = sub >> 1;
      out[qs + 32 * chunk + l] |= (q & 15) << (sub & 1 ? 4 : 0);
      if (five && q >= 16) out[qh + l] |= 1 << sub;
    }
  }
}

/** Q6_K: symmetric per sub-block of 16, step amax / 31 quantized to 8 bits against d (rounded up). */
function quantizeQ6KBlock(x: Float32Array, out: Uint8Array, o: number): void {
  const steps = new Float64Array(16);
  for (let sub = 0; sub < 16; sub++) {
    let amax = 0;
    for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[16 * sub + l]));
    steps[sub] = amax / 31;
  }
  const d = f16AtLeast(Math.max(...steps) / 127);
  setF16(out, o + 208, d);
  const scales = new Int8Array(16);
  for (let sub = 0; sub < 16; sub++) {
    scales[sub] = d > 0 ? clamp(Math.ceil(steps[sub] / d), 0, 127) : 0;
    out[o + 192 + sub] = scales[sub] & 0xff;
  }
  for (let j = 0; j < QK_K; j++) {
    const step = fr(d * scales[j >> 4]);
    const q = (step > 0 ? clamp(Math.round(x[j] / step), -32, 31) : 0) + 32;
    const { ql, qlShift, qh, qhShift } = q6kIndex(j);
    out[o + ql] |= (q & 15) << qlShift;
    out[o + 128 + qh] |= (q >> 4) << qhShift;
  }
}
