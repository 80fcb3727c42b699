// Decoding GGML blocks (layouts in src/engine/ggml.ts), shared by the kernels that read raw GGML tensors:
// the wrapper appends this file to the kernel's source. The kernel declares
//   override TYPE: u32                            (the GGML type id)
//   var<storage, read> w: array<u32>              (the tensor's bytes, row after row)

// ---- reading W's bytes

fn byte_at(offset: u32) -> u32 {
  return (w[offset >> 2u] >> ((offset & 3u) * 8u)) & 0xFFu;
}

// A half-precision field (GGML fields of 2 bytes sit at even offsets).
fn f16_at(offset: u32) -> f32 {
  return unpack2x16float((w[offset >> 2u] >> ((offset & 2u) * 8u)) & 0xFFFFu).x;
}

// The 8 bytes at any offset, as two little-endian words.
fn bytes8(offset: u32) -> vec2<u32> {
  let i = offset >> 2u;
  let shift = (offset & 3u) * 8u;
  let w0 = w[i];
  let w1 = w[i + 1u];
  if (shift == 0u) { return vec2<u32>(w0, w1); }
  let w2 = w[i + 2u];
  return vec2<u32>((w0 >> shift) | (w1 << (32u - shift)), (w1 >> shift) | (w2 << (32u - shift)));
}

fn byte_of(bytes: vec2<u32>, i: u32) -> u32 {
  return (bytes[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu;
}

fn int8(byte: u32) -> f32 {
  return f32(bitcast<i32>(byte << 24u) >> 24u);
}

// The 6-bit (scale, min) of sub-block j of a Q4_K/Q5_K block whose 12 scale bytes start at `offset`.
fn k_scale_min(offset: u32, j: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(byte_at(offset + j) & 63u), f32(byte_at(offset + j + 4u) & 63u));
  }
  let packed = byte_at(offset + j + 4u);
  let scale = (packed & 15u) | ((byte_at(offset + j - 4u) >> 6u) << 4u);
  let min = (packed >> 4u) | ((byte_at(offset + j) >> 6u) << 4u);
  return vec2<f32>(f32(scale), f32(min));
}

// ---- dequantization: values col .. col + 7 of the row whose bytes start at `base`, a row of `cols` values
// (col is a multiple of 8; the quantized types' blocks hold whole groups of 8, float types may end mid-group
// and give zeros past the row).

fn dequant8(base: u32, col: u32, cols: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  switch TYPE {
    case 0u: { // F32
      for (var i = 0u; i < 8u; i++) {
        if (col + i < cols) { v[i] = bitcast<f32>(w[(base >> 2u) + col + i]); }
      }
    }
    case 1u, 30u: { // F16, BF16
      for (var i = 0u; i < 8u; i++) {
        if (col + i < cols) {
          let offset = base + 2u * (col + i);
          let bits = (w[offset >> 2u] >> ((offset & 2u) * 8u)) & 0xFFFFu;
          if (TYPE == 1u) { v[i] = unpack2x16float(bits).x; } else { v[i] = bitcast<f32>(bits << 16u); }
        }
      }
    }
    case 8u: { // Q8_0: d f16 | int8 qs[32]
      let block = base + (col / 32u) * 34u;
      let d = f16_at(block);
      let q = bytes8(block + 2u + col % 32u);
      for (var i = 0u; i < 8u; i++) { v[i] = int8(byte_of(q, i)) * d; }
    }
    case 2u, 3u: { // Q4_0: d f16 | qs[16];  Q4_1: d f16 | m f16 | qs[16]. Values 16..31 are high nibbles.
      let j = col % 32u;
      var block: u32;
      var qs: u32;
      if (TYPE == 2u) { block = base + (col / 32u) * 18u; qs = block + 2u; }
      else { block = base + (col / 32u) * 20u; qs = block + 4u; }
      let d = f16_at(block);
      let q = bytes8(qs + j % 16u);
      let shift = (j / 16u) * 4u;
      if (TYPE == 2u) {
        for (var i = 0u; i < 8u; i++) { v[i] = f32(i32((byte_of(q, i) >> shift) & 15u) - 8) * d; }
      } else {
        let m = f16_at(block + 2u);
        for (var i = 0u; i < 8u; i++) { v[i] = f32((byte_of(q, i) >> shift) & 15u) * d + m; }
      }
    }
    case 12u, 13u: { // Q4_K: d | dmin | scales[12] | qs[128];  Q5_K: the same with qh[32] before qs
      let five = TYPE == 13u;
      var block_bytes = 144u;
      var qs_at = 16u;
      if (five) { block_bytes = 176u; qs_at = 48u; }
      let block = base + (col / 256u) * block_bytes;
      let j = col % 256u;
      let sub = j / 32u;
      let l = j % 32u;
      let scale_min = k_scale_min(block + 4u, sub);
      let d = f16_at(block) * scale_min.x;
      let m = f16_at(block + 2u) * scale_min.y;
      let q = bytes8(block + qs_at + 32u * (sub / 2u) + l);
      let shift = (sub & 1u) * 4u;
      var high = vec2<u32>(0u, 0u);
      if (five) { high = bytes8(block + 16u + l); }
      for (var i = 0u; i < 8u; i++) {
        let quant = ((byte_of(q, i) >> shift) & 15u) | (((byte_of(high, i) >> sub) & 1u) << 4u);
        v[i] = d * f32(quant) - m;
      }
    }
    case 14u: { // Q6_K: ql[128] | qh[64] | int8 scales[16] | d f16
      let block = base + (col / 256u) * 210u;
      let j = col % 256u;
      let half = j / 128u;
      let run = (j / 32u) % 4u; // runs 0 and 2 share ql bytes (low, high nibble), as do 1 and 3
      let l = j % 32u;
      let low = bytes8(block + 64u * half + 32u * (run & 1u) + l);
      let low_shift = (run / 2u) * 4u;
      let high = bytes8(block + 128u + 32u * half + l);
      let high_shift = 2u * run;
      let d = f16_at(block + 208u) * int8(byte_at(block + 192u + j / 16u));
      for (var i = 0u; i < 8u; i++) {
        let quant = ((byte_of(low, i) >> low_shift) & 15u) | (((byte_of(high, i) >> high_shift) & 3u) << 4u);
        v[i] = d * f32(i32(quant) - 32);
      }
    }
    default: {}
  }
  return v;
}
