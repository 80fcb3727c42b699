// Workgroup reductions through workgroup memory: the fallback where the adapter has no subgroups.
// Not a kernel: src/engine/ops/reduce.ts puts this or reduce_subgroup.wgsl before a kernel's source. The kernel
// defines REDUCE_WG (its workgroup size, a power of two) and takes a `lane: Lane` parameter.

const USE_SUBGROUPS: bool = false;

struct Lane {
  @builtin(local_invocation_index) li: u32,
}

var<workgroup> reduce_scratch: array<f32, REDUCE_WG>;

// The sum of `value` over the workgroup, pairwise in a fixed order. Call from uniform control flow.
fn workgroup_sum(value: f32, lane: Lane) -> f32 {
  reduce_scratch[lane.li] = value;
  workgroupBarrier();
  for (var width = REDUCE_WG / 2u; width > 0u; width >>= 1u) {
    if (lane.li < width) {
      reduce_scratch[lane.li] += reduce_scratch[lane.li + width];
    }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  workgroupBarrier(); // the next call may write reduce_scratch
  return total;
}

// The largest `value` over the workgroup, pairwise. Call from uniform control flow.
fn workgroup_max(value: f32, lane: Lane) -> f32 {
  reduce_scratch[lane.li] = value;
  workgroupBarrier();
  for (var width = REDUCE_WG / 2u; width > 0u; width >>= 1u) {
    if (lane.li < width) {
      reduce_scratch[lane.li] = max(reduce_scratch[lane.li], reduce_scratch[lane.li + width]);
    }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  workgroupBarrier(); // the next call may write reduce_scratch
  return total;
}

// Invocations in groups of `width` adjacent lanes (width a power of two dividing the workgroup size): the
// group's index and the lane's place in it.
fn lane_group(lane: Lane, width: u32) -> u32 {
  return lane.li / width;
}

fn lane_in_group(lane: Lane, width: u32) -> u32 {
  return lane.li % width;
}

// The sum of `value` over the invocation's group of `width` lanes, through workgroup memory (two barriers per
// call: kernels that sum many values batch them through their own arrays instead). Uniform control flow.
fn group_sum(value: f32, lane: Lane, width: u32) -> f32 {
  reduce_scratch[lane.li] = value;
  workgroupBarrier();
  let first = lane.li - lane.li % width;
  var total = 0.0;
  for (var t = 0u; t < width; t++) {
    total += reduce_scratch[first + t];
  }
  workgroupBarrier();
  return total;
}
