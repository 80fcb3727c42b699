// f32 <-> f16 pairs packed in u32 words (pack2x16float / unpack2x16float, core WGSL): the half-size storage of
// saved activations. Element 2i is the low half of word i, element 2i+1 the high half; an odd count leaves the
// last word's high half 0. Arithmetic stays f32: a kernel unpacks what it reads.
// pack:   packed[i] = f16 pair of x[2i], x[2i+1], each clamped to +-65504 (out of f16's range the packing is
//         indeterminate); x itself is overwritten with the rounded values, so the pass that goes on from x
//         computes on exactly what a later unpack gives back.
// unpack: x[0..count) = the f32 values of packed.
// One word (two elements) per invocation; the grid is 1-D, split over x and y past 65535 workgroups.

struct Params {
  count: u32, // elements
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> packed: array<u32>;

const WG: u32 = 256u;
const F16_MAX: f32 = 65504.0;

fn word_index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WG + li;
}

@compute @workgroup_size(256)
fn pack(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = word_index(wg, nwg, li);
  if (2u * i >= p.count) { return; }
  let has_high = 2u * i + 1u < p.count;
  var pair = vec2<f32>(x[2u * i], 0.0);
  if (has_high) { pair.y = x[2u * i + 1u]; }
  let word = pack2x16float(clamp(pair, vec2<f32>(-F16_MAX), vec2<f32>(F16_MAX)));
  packed[i] = word;
  let rounded = unpack2x16float(word);
  x[2u * i] = rounded.x;
  if (has_high) { x[2u * i + 1u] = rounded.y; }
}

@compute @workgroup_size(256)
fn unpack(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = word_index(wg, nwg, li);
  if (2u * i >= p.count) { return; }
  let pair = unpack2x16float(packed[i]);
  x[2u * i] = pair.x;
  if (2u * i + 1u < p.count) { x[2u * i + 1u] = pair.y; }
}
