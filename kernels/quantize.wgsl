// f32 values -> GGML Q8_0 or Q4_0 blocks of 32 (layouts in src/engine/ggml.ts), computed as
// ggml's reference quantizers do, so the CPU's quantize() writes the same bytes (but for rounding ties).
// Blocks of 34 or 18 bytes straddle 4-byte words, so each thread encodes two neighbouring blocks (68 or 36
// bytes: whole words) and writes their words; the last thread of an odd count writes one block and the
// zero padding after it.

struct Params {
  blocks: u32, // source values / 32
}

override TYPE: u32 = 8u; // GGML type id: 8 = Q8_0, 2 = Q4_0

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

const MAX_PAIR_WORDS: u32 = 17u; // 2 * 34 / 4

fn block_bytes() -> u32 {
  if (TYPE == 8u) { return 34u; }
  return 18u;
}

// Half-precision bits of x, rounded to nearest even (as the CPU's f32ToF16Bits).
fn f16_bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let exp = i32((bits >> 23u) & 0xFFu);
  let mantissa = bits & 0x7FFFFFu;
  if (exp == 255) {
    if (mantissa != 0u) { return sign | 0x7E00u; }
    return sign | 0x7C00u;
  }
  let e = exp - 112; // exponent rebiased from 127 to 15
  if (e >= 31) { return sign | 0x7C00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let m = mantissa | 0x800000u;
    let shift = u32(14 - e);
    var half = m >> shift;
    let rest = m & ((1u << shift) - 1u);
    let halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (half & 1u) == 1u)) { half += 1u; }
    return sign | half;
  }
  var half = (u32(e) << 10u) | (mantissa >> 13u);
  let rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) == 1u)) { half += 1u; }
  return sign | half;
}

// C's roundf: halves away from zero (WGSL's round() takes halves to even).
fn round_half_away(x: f32) -> i32 {
  let a = abs(x);
  var r = floor(a);
  if (a - r >= 0.5) { r += 1.0; }
  return i32(sign(x) * r);
}

fn put_byte(words: ptr<function, array<u32, MAX_PAIR_WORDS>>, at: u32, value: u32) {
  (*words)[at >> 2u] |= (value & 0xFFu) << ((at & 3u) * 8u);
}

fn put_f16(words: ptr<function, array<u32, MAX_PAIR_WORDS>>, at: u32, value: f32) {
  let bits = f16_bits(value);
  put_byte(words, at, bits);
  put_byte(words, at + 1u, bits >> 8u);
}

// Encodes block `block` at byte `at` of words.
fn encode_block(block: u32, words: ptr<function, array<u32, MAX_PAIR_WORDS>>, at: u32) {
  var x: array<f32, 32>;
  var amax = 0.0;
  var max_value = 0.0; // the value of largest magnitude (first one on ties)
  for (var j = 0u; j < 32u; j++) {
    x[j] = source[32u * block + j];
    if (abs(x[j]) > amax) {
      amax = abs(x[j]);
      max_value = x[j];
    }
  }
  if (TYPE == 8u) {
    // Q8_0: d = amax / 127, q = roundf(x / d).
    let d = amax / 127.0;
    var id = 0.0;
    if (d != 0.0) { id = 1.0 / d; }
    put_f16(words, at, d);
    for (var j = 0u; j < 32u; j++) { put_byte(words, at + 2u + j, u32(round_half_away(x[j] * id))); }
  } else {
    // Q4_0: d = max / -8, q = min(15, trunc(x / d + 8.5)); value j and j + 16 share byte j.
    let d = max_value / -8.0;
    var id = 0.0;
    if (d != 0.0) { id = 1.0 / d; }
    put_f16(words, at, d);
    for (var j = 0u; j < 16u; j++) {
      let low = min(15u, u32(max(0.0, x[j] * id + 8.5)));
      let high = min(15u, u32(max(0.0, x[j + 16u] * id + 8.5)));
      put_byte(words, at + 2u + j, low | (high << 4u));
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let pair = (wg.y * nwg.x + wg.x) * 64u + li;
  let first = 2u * pair;
  if (first >= p.blocks) { return; }
  let count = min(2u, p.blocks - first);
  var words: array<u32, MAX_PAIR_WORDS>;
  for (var b = 0u; b < count; b++) { encode_block(first + b, &words, b * block_bytes()); }
  let word0 = pair * (2u * block_bytes() / 4u);
  let word_count = (count * block_bytes() + 3u) / 4u;
  for (var i = 0u; i < word_count; i++) { out[word0 + i] = words[i]; }
}
