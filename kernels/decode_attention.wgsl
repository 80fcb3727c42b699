// Attention of one new token per sequence over its KV cache (generation).
// The cache of a layer holds k and v as [batch, capacity, kv_heads * head_dim]; sequence b's keys 0..positions[b]
// are valid (positions[b] is the position of its new token, whose k and v append_kv has just written).
// attend: query head h of sequence b reads kv head floor(h / (heads / kv_heads)) and keys j with
// j <= positions[b] and (window == 0 or positions[b] - j < window); scores q.k * scale, softmax, times v.
// One workgroup per (head, sequence). The scores go to `scores` [batch, heads, capacity]: a row per query, never
// a T x T matrix.

struct Params {
  batch: u32,
  capacity: u32,
  heads: u32,
  kv_heads: u32,
  head_dim: u32,
  window: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// append_kv
@group(0) @binding(1) var<storage, read> new_k: array<f32>;
@group(0) @binding(2) var<storage, read> new_v: array<f32>;
@group(0) @binding(3) var<storage, read> append_positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> k_cache_rw: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_cache_rw: array<f32>;

const APPEND_WORKGROUP: u32 = 256u;

// One thread per value of the new rows [batch, kv_heads * head_dim].
@compute @workgroup_size(APPEND_WORKGROUP)
fn append_kv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let width = p.kv_heads * p.head_dim;
  let i = (wg.y * groups.x + wg.x) * APPEND_WORKGROUP + li;
  if (i >= p.batch * width) { return; }
  let b = i / width;
  let at = (b * p.capacity + append_positions[b]) * width + i % width;
  k_cache_rw[at] = new_k[i];
  v_cache_rw[at] = new_v[i];
}

// attend
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const THREADS: u32 = 64u;
var<workgroup> reduce: array<f32, THREADS>;

fn workgroup_max(li: u32, value: f32) -> f32 {
  reduce[li] = value;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { reduce[li] = max(reduce[li], reduce[li + stride]); }
    workgroupBarrier();
  }
  let result = reduce[0];
  workgroupBarrier();
  return result;
}

fn workgroup_sum(li: u32, value: f32) -> f32 {
  reduce[li] = value;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { reduce[li] = reduce[li] + reduce[li + stride]; }
    workgroupBarrier();
  }
  let result = reduce[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(THREADS)
fn attend(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wg.x;
  let b = wg.y;
  let hd = p.head_dim;
  let kv_width = p.kv_heads * hd;
  let kv_head = h / (p.heads / p.kv_heads);
  let last = positions[b];
  var first = 0u;
  if (p.window > 0u && last + 1u > p.window) { first = last + 1u - p.window; }
  let q_at = (b * p.heads + h) * hd;
  let row = (b * p.heads + h) * p.capacity;

  // Scores of this thread's keys, and the row's maximum.
  var local_max = -3.0e38;
  for (var j = first + li; j <= last; j += THREADS) {
    let k_at = (b * p.capacity + j) * kv_width + kv_head * hd;
    var dot = 0.0;
    for (var d = 0u; d < hd; d++) { dot += q[q_at + d] * k_cache[k_at + d]; }
    let s = dot * p.scale;
    scores[row + j] = s;
    local_max = max(local_max, s);
  }
  let row_max = workgroup_max(li, local_max);

  var local_sum = 0.0;
  for (var j = first + li; j <= last; j += THREADS) {
    let e = exp(scores[row + j] - row_max);
    scores[row + j] = e;
    local_sum += e;
  }
  let row_sum = workgroup_sum(li, local_sum);
  storageBarrier();

  // out[d] = sum_j e_j v[j, d] / sum: one thread per output value.
  for (var d = li; d < hd; d += THREADS) {
    var acc = 0.0;
    for (var j = first; j <= last; j++) {
      acc += scores[row + j] * v_cache[(b * p.capacity + j) * kv_width + kv_head * hd + d];
    }
    out[q_at + d] = acc / row_sum;
  }
}
