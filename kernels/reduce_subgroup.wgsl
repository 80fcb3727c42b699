enable subgroups;
// Workgroup reductions with subgroup operations, for adapters with the `subgroups` feature and WGSL's
// subgroup_id builtins. Correct for any subgroup size from 4 up to REDUCE_WG (the kernel's workgroup size).
// Not a kernel: see reduce_shared.wgsl, which has the same interface.

const USE_SUBGROUPS: bool = true;

struct Lane {
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_invocation_id) sid: u32,
  @builtin(subgroup_size) size: u32,
  @builtin(subgroup_id) subgroup: u32,
  @builtin(num_subgroups) subgroups: u32,
}

var<workgroup> reduce_partials: array<f32, REDUCE_WG / 4u>; // one per subgroup; subgroups hold at least 4

// The sum of `value` over the workgroup: each subgroup sums its own, then every subgroup sums those partials
// in the same order, so every invocation gets the same total. Call from uniform control flow.
fn workgroup_sum(value: f32, lane: Lane) -> f32 {
  let own = subgroupAdd(value);
  if (lane.sid == 0u) {
    reduce_partials[lane.subgroup] = own;
  }
  workgroupBarrier();
  var partial = 0.0;
  for (var i = 0u; i < lane.subgroups; i += lane.size) {
    if (i + lane.sid < lane.subgroups) {
      partial += reduce_partials[i + lane.sid];
    }
  }
  let total = subgroupAdd(partial);
  workgroupBarrier(); // the next call may write reduce_partials
  return total;
}

// The largest `value` over the workgroup, as workgroup_sum does it. Call from uniform control flow.
fn workgroup_max(value: f32, lane: Lane) -> f32 {
  let own = subgroupMax(value);
  if (lane.sid == 0u) {
    reduce_partials[lane.subgroup] = own;
  }
  workgroupBarrier();
  var partial = own;
  for (var i = 0u; i < lane.subgroups; i += lane.size) {
    if (i + lane.sid < lane.subgroups) {
      partial = max(partial, reduce_partials[i + lane.sid]);
    }
  }
  let total = subgroupMax(partial);
  workgroupBarrier(); // the next call may write reduce_partials
  return total;
}

// Invocations in groups of `width` lanes of one subgroup (width a power of two, at most the subgroup size,
// and 4 always is): the group's index within the workgroup and the lane's place in it. Assumes full subgroups,
// as a workgroup size that is a multiple of the subgroup size gives.
fn lane_group(lane: Lane, width: u32) -> u32 {
  return (lane.subgroup * lane.size + lane.sid) / width;
}

fn lane_in_group(lane: Lane, width: u32) -> u32 {
  return lane.sid % width;
}

// The sum of `value` over the invocation's group of `width` lanes, by butterfly shuffles: every lane of the
// group gets the same sum. Uniform control flow.
fn group_sum(value: f32, lane: Lane, width: u32) -> f32 {
  var total = value;
  for (var mask = 1u; mask < width; mask <<= 1u) {
    total += subgroupShuffleXor(total, mask);
  }
  return total;
}
