// In-place elementwise updates over a flat f32 buffer, one element per invocation.
// add_in_place: target[i] += scale * source[i]   (residual connections, gradient accumulation)
// scale_in_place: target[i] *= scale
// The grid is 1-D, split over x and y past 65535 workgroups (src/engine/ops/dispatch.ts).

struct Params {
  count: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> target_values: array<f32>;
@group(0) @binding(2) var<storage, read> source_values: array<f32>;

const WG: u32 = 256u;

fn element_index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WG + li;
}

@compute @workgroup_size(256)
fn add_in_place(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
  let i = element_index(wg, nwg, li);
  if (i >= p.count) { return; }
  target_values[i] = fma(p.scale, source_values[i], target_values[i]);
}

@compute @workgroup_size(256)
fn scale_in_place(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
  let i = element_index(wg, nwg, li);
  if (i >= p.count) { return; }
  target_values[i] *= p.scale;
}
