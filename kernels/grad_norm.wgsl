// Global L2 norm of a flat gradient buffer and the clip coefficient of torch.nn.utils.clip_grad_norm_,
// in two deterministic passes (no atomics):
//   partial_sums: workgroup w writes output[w] = sum of squares of its grid-strided share of input;
//   finish (one workgroup): sums input[0..num_partials) and writes output[0] = norm,
//     output[1] = min(1, max_norm / (norm + 1e-6)), or 1 when clipping is off.
// Each thread sums a few elements sequentially; threads, then partials, are combined by pairwise trees.

struct Params {
  count: u32,
  num_partials: u32,
  clip: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

const WORKGROUP: u32 = 256u;
var<workgroup> shared_sums: array<f32, WORKGROUP>;

// Sum of shared_sums over the workgroup, pairwise; the result is in shared_sums[0].
fn tree_sum(li: u32) {
  for (var width = WORKGROUP / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (li < width) {
      shared_sums[li] += shared_sums[li + width];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WORKGROUP)
fn partial_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let stride = p.num_partials * WORKGROUP;
  var sum = 0.0;
  for (var i = wg.x * WORKGROUP + li; i < p.count; i += stride) {
    let g = input[i];
    sum += g * g;
  }
  shared_sums[li] = sum;
  tree_sum(li);
  if (li == 0u) {
    output[wg.x] = shared_sums[0];
  }
}

@compute @workgroup_size(WORKGROUP)
fn finish(@builtin(local_invocation_index) li: u32) {
  var sum = 0.0;
  for (var i = li; i < p.num_partials; i += WORKGROUP) {
    sum += input[i];
  }
  shared_sums[li] = sum;
  tree_sum(li);
  if (li == 0u) {
    let norm = sqrt(shared_sums[0]);
    var coefficient = 1.0;
    if (p.clip != 0u) {
      coefficient = min(1.0, p.max_norm / (norm + 1e-6));
    }
    output[0] = norm;
    output[1] = coefficient;
  }
}
