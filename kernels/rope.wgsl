// Rotary position embedding in place, HF "rotate half" layout: within each head, dim d pairs with d + headDim/2.
// forward:  x1' = x1 cos - x2 sin,  x2' = x2 cos + x1 sin,  angle = position * inv_freq[d], position = n % seq_len.
// backward: the transpose, i.e. the same rotation by -angle, applied to the gradient.
// forward_at: the forward rotation with row n at position positions[n] (generation: one new token per sequence).
// One thread per (row, d < headDim/2): it computes cos/sin once and rotates that pair in every head of the row.

struct Params {
  rows: u32,
  seq_len: u32,
  heads: u32,
  head_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;

const WORKGROUP: u32 = 256u;

// 2*pi = TWO_PI_A + TWO_PI_B + TWO_PI_C. A and B have at most 8 significant bits, so k * A and k * B are exact
// in f32 for |k| < 2^16 (angles up to ~400k radians), and the reduced angle keeps full f32 accuracy.
const TWO_PI_A: f32 = 6.28125;
const TWO_PI_B: f32 = 0.0019378662109375;
const TWO_PI_C: f32 = -2.559031372584286e-6;
const INV_TWO_PI: f32 = 0.15915494309189535;
// pi/2 = HALF_PI_HI + HALF_PI_LO; q * HALF_PI_HI is exact for the quadrants |q| <= 2.
const HALF_PI_HI: f32 = 1.5707963705062866;
const HALF_PI_LO: f32 = -4.371139000186243e-8;
const TWO_OVER_PI: f32 = 0.6366197723675814;

// cos and sin of an f32 angle to about 1 ulp, as PyTorch computes them. The built-in sin/cos are not used:
// WGSL only promises 2^-11 absolute error on [-pi, pi] (SwiftShader is off by 2e-4), and less outside it.
fn cos_sin(angle: f32) -> vec2<f32> {
  let k = round(angle * INV_TWO_PI);
  let r = ((angle - k * TWO_PI_A) - k * TWO_PI_B) - k * TWO_PI_C; // [-pi, pi]
  let q = round(r * TWO_OVER_PI);
  let t = (r - q * HALF_PI_HI) - q * HALF_PI_LO; // [-pi/4, pi/4]
  let t2 = t * t;
  // Taylor series, truncated where the next term is below 1e-11 on [-pi/4, pi/4].
  let s = t + t * t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362880.0
          + t2 * (-1.0 / 39916800.0)))));
  let c = 1.0 - t2 * (0.5 - t2 * (1.0 / 24.0 + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40320.0
          + t2 * (-1.0 / 3628800.0 + t2 * (1.0 / 479001600.0))))));
  switch (i32(q) & 3) {
    case 1: { return vec2<f32>(-s, c); }
    case 2: { return vec2<f32>(-c, -s); }
    case 3: { return vec2<f32>(s, -c); }
    default: { return vec2<f32>(c, s); }
  }
}

fn rotate(n: u32, d: u32, position: u32, sin_sign: f32) {
  let half_dim = p.head_dim / 2u;
  let cs = cos_sin(f32(position) * inv_freq[d]);
  let c = cs.x;
  let s = sin_sign * cs.y;
  var i = n * p.heads * p.head_dim + d;
  for (var h = 0u; h < p.heads; h++) {
    let x1 = x[i];
    let x2 = x[i + half_dim];
    x[i] = x1 * c - x2 * s;
    x[i + half_dim] = x2 * c + x1 * s;
    i += p.head_dim;
  }
}

fn thread_of(wg: vec3<u32>, groups: vec3<u32>, li: u32) -> u32 {
  return (wg.y * groups.x + wg.x) * WORKGROUP + li;
}

// Row n of the activations is position n % seq_len.
fn rotate_in_sequence(thread: u32, sin_sign: f32) {
  let half_dim = p.head_dim / 2u;
  if (thread >= p.rows * half_dim) { return; }
  let n = thread / half_dim;
  rotate(n, thread % half_dim, n % p.seq_len, sin_sign);
}

@compute @workgroup_size(WORKGROUP)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  rotate_in_sequence(thread_of(wg, groups, li), 1.0);
}

@compute @workgroup_size(WORKGROUP)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  rotate_in_sequence(thread_of(wg, groups, li), -1.0);
}

@compute @workgroup_size(WORKGROUP)
fn forward_at(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let thread = thread_of(wg, groups, li);
  let half_dim = p.head_dim / 2u;
  if (thread >= p.rows * half_dim) { return; }
  let n = thread / half_dim;
  rotate(n, thread % half_dim, positions[n], 1.0);
}
