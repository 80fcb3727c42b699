// x[i] = offset + scale * u, u uniform in [-1, 1) from a counter-based hash of (seed, i): random weights made on
// the GPU, so benchmarks of multi-GB models need no host-side data.

struct Params { count: u32, seed: u32, row_width: u32, _pad: u32, scale: f32, offset: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

fn hash(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u; h *= 0x7feb352du;
  h ^= h >> 15u; h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row_width + gid.x;
  if (gid.x >= p.row_width || i >= p.count) { return; }
  let u = f32(hash(i ^ hash(p.seed)) >> 8u) / 8388608.0 - 1.0;
  x[i] = p.offset + p.scale * u;
}
