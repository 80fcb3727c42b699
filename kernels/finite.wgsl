// Finds the first NaN or infinity of a weight tensor in its file's encoding (layouts in src/engine/ggml.ts), for
// the check that runs as weights are uploaded. The test is on the bits (an all-ones exponent), not on float values:
// WGSL lets implementations assume that floats are finite, so isNan-style comparisons may be optimised away.
// F32, F16 and BF16 check every value; a GGML block can only be non-finite through its f16 scale fields (d, and
// m or dmin), its quants being small integers. One thread per unit: an F32 value, a word of two F16/BF16 values,
// or a block, each thread taking several. A thread that finds one lowers first_bad[slot] to its index (of the value,
// or of the block).

struct Params {
  byte_offset: u32,  // where the tensor starts in w; a multiple of 4
  units: u32,        // threads' work items: F32 values, F16/BF16 words, blocks
  elements: u32,     // values of an F16/BF16 tensor (its last word may hold only one)
  slot: u32,         // the tensor's entry in first_bad
}

override TYPE: u32;  // the GGML type id

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> first_bad: array<atomic<u32>>;

const WORKGROUP: u32 = 256u;
const NONE: u32 = 0xFFFFFFFFu;

fn f16_bad(bits: u32) -> bool {
  return (bits & 0x7C00u) == 0x7C00u;
}

// The f16 field at a byte offset of w (GGML's 2-byte fields sit at even offsets).
fn f16_field_bad(offset: u32) -> bool {
  return f16_bad((w[offset >> 2u] >> ((offset & 2u) * 8u)) & 0xFFFFu);
}

fn bf16_bad(bits: u32) -> bool {
  return (bits & 0x7F80u) == 0x7F80u;
}

const UNITS_PER_THREAD: u32 = 16u;  // keep in step with src/engine/ops/finite.ts

// The first bad index of one unit, or NONE.
fn check_unit(unit: u32) -> u32 {
  let first_word = p.byte_offset >> 2u;
  switch TYPE {
    case 0u: { // F32
      if ((w[first_word + unit] & 0x7F800000u) == 0x7F800000u) { return unit; }
    }
    case 1u, 30u: { // F16, BF16: two values per word, the first in the low half
      let word = w[first_word + unit];
      for (var half = 0u; half < 2u; half++) {
        let i = 2u * unit + half;
        let bits = (word >> (16u * half)) & 0xFFFFu;
        if (i < p.elements && select(bf16_bad(bits), f16_bad(bits), TYPE == 1u)) { return i; }
      }
    }
    case 8u, 2u: { // Q8_0 (34 bytes), Q4_0 (18): d
      if (f16_field_bad(p.byte_offset + unit * select(18u, 34u, TYPE == 8u))) { return unit; }
    }
    case 3u, 12u, 13u: { // Q4_1 (20 bytes): d, m; Q4_K (144), Q5_K (176): d, dmin
      var bytes = 20u;
      if (TYPE == 12u) { bytes = 144u; } else if (TYPE == 13u) { bytes = 176u; }
      let block = p.byte_offset + unit * bytes;
      if (f16_field_bad(block) || f16_field_bad(block + 2u)) { return unit; }
    }
    case 14u: { // Q6_K (210 bytes): d at byte 208
      if (f16_field_bad(p.byte_offset + unit * 210u + 208u)) { return unit; }
    }
    default: {}
  }
  return NONE;
}

// Thread t checks units t, t + threads, t + 2 threads, ... (UNITS_PER_THREAD of them): neighbouring threads read
// neighbouring words, and a CPU implementation (SwiftShader) pays its per-thread cost 16 times less often.
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let thread = (wg.y * grid.x + wg.x) * WORKGROUP + li;
  let threads = grid.x * grid.y * WORKGROUP;
  var bad = NONE;
  for (var k = 0u; k < UNITS_PER_THREAD; k++) {
    let unit = thread + k * threads;
    if (unit >= p.units) { break; }
    bad = min(bad, check_unit(unit));
  }
  if (bad != NONE) { atomicMin(&first_bad[p.slot], bad); }
}
