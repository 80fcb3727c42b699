// LM-head cross-entropy at target rows, over vocabulary chunks (the chunk products are matmul.wgsl).
// P targets; target p reads hidden row rows[p] and has label labels[p] < V.
// The logits block of one chunk is [P, chunk_width], packed, for columns chunk_start.. of the vocabulary.
// stats holds 4 f32 per target: running max, running sum of exp(x - max), label logit, logsumexp.
// One workgroup per target row (row = wg.x + wg.y * num_workgroups.x), its threads walk the columns.
//
// Entry points and their storage bindings (each entry point binds only its own):
//   gather_rows         1 src (hidden [N, D])       2 rows  3 dst (gathered [P, D])
//   scatter_add_rows    1 src (dGathered [P, D])    2 rows  3 dst (dHidden [N, D], += at rows)
//   online_logsumexp    1 logits (read)             2 labels  3 stats (read_write)  4 token_loss
//   softmax_gradient    1 logits (read_write)       2 labels  3 stats (read)        4 target_weights

struct Params {
  targets: u32,
  dim: u32,
  chunk_start: u32,
  chunk_width: u32,
  is_first: u32,
  is_last: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
const REDUCE_WG: u32 = WG;
const LOWEST: f32 = -3.4028234e38;

fn target_row(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wg.x + wg.y * nwg.x;
}

// ---- gather / scatter of token rows ----

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn gather_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let t = target_row(wg, nwg);
  if (t >= p.targets) { return; }
  let src_base = rows[t] * p.dim;
  let dst_base = t * p.dim;
  for (var d = li; d < p.dim; d += WG) {
    dst[dst_base + d] = src[src_base + d];
  }
}

// Target rows are distinct, so each dHidden element has one writer.
@compute @workgroup_size(256)
fn scatter_add_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) li: u32) {
  let t = target_row(wg, nwg);
  if (t >= p.targets) { return; }
  let src_base = t * p.dim;
  let dst_base = rows[t] * p.dim;
  for (var d = li; d < p.dim; d += WG) {
    dst[dst_base + d] += src[src_base + d];
  }
}

// ---- forward: online logsumexp over chunks ----

@group(0) @binding(1) var<storage, read> logits_in: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> stats_rw: array<f32>;
@group(0) @binding(4) var<storage, read_write> token_loss: array<f32>;

// (max, sum of exp(x - max)) of the union of two sets of values.
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  let m = max(m1, m2);
  return vec2<f32>(m, s1 * exp(m1 - m) + s2 * exp(m2 - m));
}

// Each thread keeps a running (max, sum) over its columns; the workgroup then takes the largest max and the sum
// of every thread's sum rescaled to it (workgroup_max and workgroup_sum: subgroup operations where the adapter
// has them, src/engine/ops/reduce.ts).
@compute @workgroup_size(256)
fn online_logsumexp(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let t = target_row(wg, nwg);
  if (t >= p.targets) { return; }
  let base = t * p.chunk_width;
  var m = LOWEST;
  var s = 0.0;
  for (var j = lane.li; j < p.chunk_width; j += WG) {
    let x = logits_in[base + j];
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
  }
  let largest = workgroup_max(m, lane);
  let sum = workgroup_sum(select(0.0, s * exp(m - largest), s != 0.0), lane); // a NaN logit's NaN passes
  if (lane.li != 0u) { return; }
  var total = vec2<f32>(largest, sum);
  var label_logit = 0.0;
  if (p.is_first == 0u) {
    total = merge(stats_rw[4u * t], stats_rw[4u * t + 1u], total.x, total.y);
    label_logit = stats_rw[4u * t + 2u];
  }
  let label = labels[t];
  if (label >= p.chunk_start && label < p.chunk_start + p.chunk_width) {
    label_logit = logits_in[base + label - p.chunk_start];
  }
  stats_rw[4u * t] = total.x;
  stats_rw[4u * t + 1u] = total.y;
  stats_rw[4u * t + 2u] = label_logit;
  if (p.is_last != 0u) {
    let lse = total.x + log(total.y);
    stats_rw[4u * t + 3u] = lse;
    token_loss[t] = lse - label_logit;
  }
}

// ---- backward: dlogits = (softmax - onehot(label)) * target_weights, in place ----

@group(0) @binding(1) var<storage, read_write> logits_rw: array<f32>;
@group(0) @binding(3) var<storage, read> stats_in: array<f32>;
@group(0) @binding(4) var<storage, read> target_weights: array<f32>;

@compute @workgroup_size(256)
fn softmax_gradient(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) li: u32) {
  let t = target_row(wg, nwg);
  if (t >= p.targets) { return; }
  let base = t * p.chunk_width;
  let lse = stats_in[4u * t + 3u];
  let weight = target_weights[t];
  let label = labels[t];
  for (var j = li; j < p.chunk_width; j += WG) {
    var g = exp(logits_rw[base + j] - lse);
    if (p.chunk_start + j == label) { g -= 1.0; }
    logits_rw[base + j] = g * weight;
  }
}
