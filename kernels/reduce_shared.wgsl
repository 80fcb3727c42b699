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
