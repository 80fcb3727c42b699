// Global L2 norm of a flat gradient buffer and the clip coefficient of torch.nn.utils.clip_grad_norm_,
// in two deterministic passes (no atomics):
//   partial_sums: workgroup w writes output[w] = sum of squares of its grid-strided share of input;
//   finish (one workgroup): sums input[0..num_partials) and writes output[0] = norm,
//     output[1] = min(1, max_norm / (norm + 1e-6)), or 1 when clipping is off.
// Each thread sums a few elements sequentially; threads, then partials, are combined by workgroup_sum (a
// pairwise tree in workgroup memory, or subgroup sums where the adapter has subgroups).

struct Params {
  count: u32,
  num_partials: u32,
  clip: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// workgroup_sum and Lane come from the reduction prelude (reduce_shared.wgsl or reduce_subgroup.wgsl).
const WORKGROUP: u32 = 256u;
const REDUCE_WG: u32 = WORKGROUP;

@compute @workgroup_size(WORKGROUP)
fn partial_sums(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let stride = p.num_partials * WORKGROUP;
  var sum = 0.0;
  for (var i = wg.x * WORKGROUP + li; i < p.count; i += stride) {
    let g = input[i];
    sum += g * g;
  }
  let total = workgroup_sum(sum, lane);
  if (li == 0u) {
    output[wg.x] = total;
  }
}

@compute @workgroup_size(WORKGROUP)
fn finish(lane: Lane) {
  let li = lane.li;
  var sum = 0.0;
  for (var i = li; i < p.num_partials; i += WORKGROUP) {
    sum += input[i];
  }
  let total = workgroup_sum(sum, lane);
  if (li == 0u) {
    let norm = sqrt(total);
    var coefficient = 1.0;
    if (p.clip != 0u) {
      coefficient = min(1.0, p.max_norm / (norm + 1e-6));
    }
    output[0] = norm;
    output[1] = coefficient;
  }
}
