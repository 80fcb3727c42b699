// SwiGLU, elementwise over flat f32 buffers, one element per invocation.
// forward:  out = silu(gate) * up, silu(g) = g * sigmoid(g)
// backward: dGate = dOut * up * sigmoid(g) * (1 + g * (1 - sigmoid(g))), dUp = dOut * silu(g), written in place
//           over gate and up (each invocation reads its element before writing it), which the MLP's backward
//           reads for the last time here.
// The grid is 1-D, split over x and y past 65535 workgroups (src/engine/ops/dispatch.ts).

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// forward
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// backward
@group(0) @binding(1) var<storage, read> d_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> gate_to_d_gate: array<f32>;
@group(0) @binding(3) var<storage, read_write> up_to_d_up: array<f32>;

const WG: u32 = 256u;

fn element_index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WG + li;
}

// exp of a non-positive number only, so nothing overflows for large |g|.
fn sigmoid(g: f32) -> f32 {
  let e = exp(-abs(g));
  let inv = 1.0 / (1.0 + e);
  return select(e * inv, inv, g >= 0.0);
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let i = element_index(wg, nwg, li);
  if (i >= p.count) { return; }
  let g = gate[i];
  out[i] = g * sigmoid(g) * up[i];
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = element_index(wg, nwg, li);
  if (i >= p.count) { return; }
  let g = gate_to_d_gate[i];
  let u = up_to_d_up[i];
  let dy = d_out[i];
  let s = sigmoid(g);
  gate_to_d_gate[i] = dy * u * s * (1.0 + g * (1.0 - s));
  up_to_d_up[i] = dy * g * s;
}
