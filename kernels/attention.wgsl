// Causal multi-head attention with GQA/MQA, a padding mask and an optional sliding window, tiled in the
// flash-attention style: no T x T buffer anywhere.
//
// Query i of sequence b sees key j of the same sequence iff j <= i, mask[b*T + j] != 0 and
// (window == 0 or i - j < window). Scores are (q . k) * scale. Query head h reads kv head h / (H / Hkv).
//
// forward:        one workgroup per (32-query tile, head, sequence); online softmax over 16-key tiles; writes
//                 out and the per-row logsumexp.
// backward_delta: delta = rowsum(dOut * out) per (row, head), plus (lse * log2 e, delta) pairs for
//                 backward_dkdv, written into the dq buffer (dq is free until backward_dq overwrites it).
// backward_dkdv:  one workgroup per (16-key tile, kv head, sequence), looping over the group's query heads and
//                 8-query tiles: dk and dv need no cross-workgroup sums, so no atomics.
// backward_dq:    one workgroup per (32-query tile, head, sequence), looping over 8-key tiles.
//
// Each query (or key) row is shared by SPLIT threads; thread `part` owns the vec4 chunks part, part + SPLIT, ...
// of the head, so its q/o (or k/v/dk/dv) slices live in registers. A dot product over the head is the sum of
// the SPLIT partial dots, exchanged through workgroup memory. Scores are kept in base 2: q is pre-multiplied by
// scale * log2(e), so exp() becomes exp2().

struct Params {
  batch: u32,
  seq_len: u32,
  heads: u32,
  kv_heads: u32,
  head_dim: u32,
  window: u32,
  scale_log2: f32, // scale * log2(e)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Bindings are per entry point (layout 'auto'); entry points reuse numbers for different buffers.
@group(0) @binding(1) var<storage, read> q_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k_in: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v_in: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> mask_in: array<u32>;

// forward
@group(0) @binding(5) var<storage, read_write> out_rw: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> lse_rw: array<f32>;

// backward_delta
@group(0) @binding(1) var<storage, read> delta_out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> delta_d_out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> delta_lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> delta_rw: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats_rw: array<vec2<f32>>;

// backward_dkdv (and backward_dq at binding 6)
@group(0) @binding(5) var<storage, read> stats_in: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> d_out_in: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dk_rw: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dv_rw: array<vec4<f32>>;

// backward_dq
@group(0) @binding(5) var<storage, read> lse_in: array<f32>;
@group(0) @binding(7) var<storage, read> delta_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq_rw: array<vec4<f32>>;

const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
const NEG_BIG: f32 = -1.0e30;
const MAX_CHUNKS: u32 = 32u; // vec4 chunks in the largest head (head_dim 128)
const REDUCE_WG: u32 = 128u;

// Causal and sliding-window test for query position i and key position j (the padding mask is separate).
fn in_band(i: u32, j: u32) -> bool {
  return i < p.seq_len && j <= i && (p.window == 0u || i - j < p.window);
}

fn key_is_real(seq0: u32, j: u32) -> bool {
  return mask_in[seq0 + j] != 0u;
}

// ---------------------------------------------------------------------------------------------------------
// Forward

const FWD_ROWS: u32 = 32u;
const FWD_KEYS: u32 = 16u;
const FWD_SPLIT: u32 = 4u;
const FWD_SLICE: u32 = MAX_CHUNKS / FWD_SPLIT;
const FWD_THREADS: u32 = FWD_ROWS * FWD_SPLIT;

var<workgroup> fwd_kv: array<vec4<f32>, FWD_KEYS * MAX_CHUNKS>; // the K tile, then the V tile: 8 KiB
var<workgroup> fwd_partial: array<f32, FWD_ROWS * FWD_KEYS * FWD_SPLIT>; // [row][key][part]: 8 KiB

@compute @workgroup_size(FWD_THREADS)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let T = p.seq_len;
  let chunks = p.head_dim / 4u;
  let h = wg.y;
  let seq0 = wg.z * T;
  let q_col = h * chunks;
  let kv_col = (h / (p.heads / p.kv_heads)) * chunks;
  let q_stride = p.heads * chunks;
  let kv_stride = p.kv_heads * chunks;
  // The last query tiles see the most keys: start them first.
  let q0 = ((T + FWD_ROWS - 1u) / FWD_ROWS - 1u - wg.x) * FWD_ROWS;
  let row = lane_group(lane, FWD_SPLIT);
  let part = lane_in_group(lane, FWD_SPLIT);
  let i = q0 + row;

  var q: array<vec4<f32>, FWD_SLICE>;
  var o: array<vec4<f32>, FWD_SLICE>;
  if (i < T) {
    for (var m = 0u; m < FWD_SLICE; m++) {
      let c = part + FWD_SPLIT * m;
      if (c < chunks) { q[m] = q_in[(seq0 + i) * q_stride + q_col + c] * p.scale_log2; }
    }
  }
  var row_max = NEG_BIG;
  var row_sum = 0.0;

  let last_query = min(q0 + FWD_ROWS, T) - 1u;
  var first_key = 0u;
  if (p.window > 0u && q0 + 1u > p.window) { first_key = q0 + 1u - p.window; }
  for (var k0 = first_key; k0 <= last_query; k0 += FWD_KEYS) {
    for (var e = li; e < FWD_KEYS * chunks; e += FWD_THREADS) {
      let r = e / chunks;
      let c = e % chunks;
      var value = vec4<f32>(0.0);
      if (k0 + r < T) { value = k_in[(seq0 + k0 + r) * kv_stride + kv_col + c]; }
      fwd_kv[r * MAX_CHUNKS + c] = value;
    }
    workgroupBarrier();
    var s: array<f32, FWD_KEYS>;
    for (var j = 0u; j < FWD_KEYS; j++) {
      var partial = 0.0;
      for (var m = 0u; m < FWD_SLICE; m++) {
        let c = part + FWD_SPLIT * m;
        if (c < chunks) { partial += dot(q[m], fwd_kv[j * MAX_CHUNKS + c]); }
      }
      if (USE_SUBGROUPS) {
        s[j] = group_sum(partial, lane, FWD_SPLIT);
      } else {
        fwd_partial[(row * FWD_KEYS + j) * FWD_SPLIT + part] = partial;
      }
    }
    // Also orders the K tile's reads before the V tile's writes below.
    workgroupBarrier();
    if (!USE_SUBGROUPS) {
      for (var j = 0u; j < FWD_KEYS; j++) {
        let at = (row * FWD_KEYS + j) * FWD_SPLIT;
        var score = 0.0;
        for (var t = 0u; t < FWD_SPLIT; t++) { score += fwd_partial[at + t]; }
        s[j] = score;
      }
    }

    // Every thread of the row computes the same scores and softmax statistics.
    var visible = 0u;
    var tile_max = NEG_BIG;
    for (var j = 0u; j < FWD_KEYS; j++) {
      let k = k0 + j;
      if (in_band(i, k) && key_is_real(seq0, k)) {
        visible |= 1u << j;
        tile_max = max(tile_max, s[j]);
      }
    }
    let new_max = max(row_max, tile_max);
    let correction = exp2(row_max - new_max);
    row_max = new_max;
    row_sum *= correction;
    for (var j = 0u; j < FWD_KEYS; j++) {
      var prob = 0.0;
      if ((visible & (1u << j)) != 0u) { prob = exp2(s[j] - new_max); }
      s[j] = prob;
      row_sum += prob;
    }
    for (var m = 0u; m < FWD_SLICE; m++) { o[m] *= correction; }

    // All reads of the K tile happened before the barrier above.
    for (var e = li; e < FWD_KEYS * chunks; e += FWD_THREADS) {
      let r = e / chunks;
      let c = e % chunks;
      var value = vec4<f32>(0.0);
      if (k0 + r < T) { value = v_in[(seq0 + k0 + r) * kv_stride + kv_col + c]; }
      fwd_kv[r * MAX_CHUNKS + c] = value;
    }
    workgroupBarrier();
    for (var j = 0u; j < FWD_KEYS; j++) {
      for (var m = 0u; m < FWD_SLICE; m++) {
        let c = part + FWD_SPLIT * m;
        if (c < chunks) { o[m] += s[j] * fwd_kv[j * MAX_CHUNKS + c]; }
      }
    }
    workgroupBarrier();
  }

  if (i < T) {
    // A query that sees no key gets output 0 and lse 0.
    var inv_sum = 0.0;
    var lse = 0.0;
    if (row_sum > 0.0) {
      inv_sum = 1.0 / row_sum;
      lse = (row_max + log2(row_sum)) * LN2;
    }
    for (var m = 0u; m < FWD_SLICE; m++) {
      let c = part + FWD_SPLIT * m;
      if (c < chunks) { out_rw[(seq0 + i) * q_stride + q_col + c] = o[m] * inv_sum; }
    }
    if (part == 0u) { lse_rw[(seq0 + i) * p.heads + h] = lse; }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Backward, step 1: delta[n, h] = sum_d dOut * out, and stats[n, h] = (lse * log2 e, delta).

const DELTA_THREADS: u32 = 256u;

@compute @workgroup_size(DELTA_THREADS)
fn backward_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = gid.y * groups.x * DELTA_THREADS + gid.x; // n * heads + h
  if (idx >= p.batch * p.seq_len * p.heads) { return; }
  let chunks = p.head_dim / 4u;
  let at = idx * chunks; // rows are [heads][head_dim], so (n, h) starts at (n * heads + h) * chunks
  var delta = 0.0;
  for (var c = 0u; c < chunks; c++) { delta += dot(delta_out[at + c], delta_d_out[at + c]); }
  delta_rw[idx] = delta;
  stats_rw[idx] = vec2<f32>(delta_lse[idx] * LOG2E, delta);
}

// ---------------------------------------------------------------------------------------------------------
// Backward, step 2: dk and dv. With P = exp(S - lse) and dS = P * (dOut v^T - delta):
// dv_j = sum_i P_ij dOut_i, dk_j = scale * sum_i dS_ij q_i, summed over the query heads of the kv head.

const KV_KEYS: u32 = 16u;
const KV_ROWS: u32 = 8u;
const KV_SPLIT: u32 = 8u;
const KV_SLICE: u32 = MAX_CHUNKS / KV_SPLIT;
const KV_THREADS: u32 = KV_KEYS * KV_SPLIT;

var<workgroup> kv_q: array<vec4<f32>, KV_ROWS * MAX_CHUNKS>; // q * scale * log2 e: 4 KiB
var<workgroup> kv_d_out: array<vec4<f32>, KV_ROWS * MAX_CHUNKS>; // 4 KiB
var<workgroup> kv_partial_s: array<f32, KV_KEYS * KV_ROWS * KV_SPLIT>; // [key][query][part]: 4 KiB
var<workgroup> kv_partial_dp: array<f32, KV_KEYS * KV_ROWS * KV_SPLIT>; // 4 KiB

@compute @workgroup_size(KV_THREADS)
fn backward_dkdv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let T = p.seq_len;
  let chunks = p.head_dim / 4u;
  let group = p.heads / p.kv_heads;
  let kv_head = wg.y;
  let seq0 = wg.z * T;
  let kv_col = kv_head * chunks;
  let q_stride = p.heads * chunks;
  let kv_stride = p.kv_heads * chunks;
  let k0 = wg.x * KV_KEYS;
  let key_row = li / KV_SPLIT;
  let part = li % KV_SPLIT;
  let j = k0 + key_row;
  let key_real = j < T && key_is_real(seq0, j);

  var k: array<vec4<f32>, KV_SLICE>;
  var v: array<vec4<f32>, KV_SLICE>;
  var dk: array<vec4<f32>, KV_SLICE>;
  var dv: array<vec4<f32>, KV_SLICE>;
  if (j < T) {
    for (var m = 0u; m < KV_SLICE; m++) {
      let c = part + KV_SPLIT * m;
      if (c < chunks) {
        k[m] = k_in[(seq0 + j) * kv_stride + kv_col + c];
        v[m] = v_in[(seq0 + j) * kv_stride + kv_col + c];
      }
    }
  }

  // Queries that can see a key of this tile: from k0 to the window's end.
  var last_query = T - 1u;
  if (p.window > 0u) { last_query = min(last_query, k0 + KV_KEYS + p.window - 2u); }
  for (var g = 0u; g < group; g++) {
    let h = kv_head * group + g;
    let q_col = h * chunks;
    for (var i0 = k0; i0 <= last_query; i0 += KV_ROWS) {
      for (var e = li; e < KV_ROWS * chunks; e += KV_THREADS) {
        let r = e / chunks;
        let c = e % chunks;
        var q_value = vec4<f32>(0.0);
        var d_out_value = vec4<f32>(0.0);
        if (i0 + r < T) {
          let at = (seq0 + i0 + r) * q_stride + q_col + c;
          q_value = q_in[at] * p.scale_log2;
          d_out_value = d_out_in[at];
        }
        kv_q[r * MAX_CHUNKS + c] = q_value;
        kv_d_out[r * MAX_CHUNKS + c] = d_out_value;
      }
      workgroupBarrier();
      for (var r = 0u; r < KV_ROWS; r++) {
        var partial_s = 0.0;
        var partial_dp = 0.0;
        for (var m = 0u; m < KV_SLICE; m++) {
          let c = part + KV_SPLIT * m;
          if (c < chunks) {
            partial_s += dot(k[m], kv_q[r * MAX_CHUNKS + c]);
            partial_dp += dot(v[m], kv_d_out[r * MAX_CHUNKS + c]);
          }
        }
        let at = (key_row * KV_ROWS + r) * KV_SPLIT + part;
        kv_partial_s[at] = partial_s;
        kv_partial_dp[at] = partial_dp;
      }
      workgroupBarrier();
      for (var r = 0u; r < KV_ROWS; r++) {
        let i = i0 + r;
        if (key_real && in_band(i, j)) {
          let at = (key_row * KV_ROWS + r) * KV_SPLIT;
          var s = 0.0;
          var dp = 0.0;
          for (var t = 0u; t < KV_SPLIT; t++) {
            s += kv_partial_s[at + t];
            dp += kv_partial_dp[at + t];
          }
          let stats = stats_in[(seq0 + i) * p.heads + h];
          let prob = exp2(s - stats.x);
          let ds = prob * (dp - stats.y);
          for (var m = 0u; m < KV_SLICE; m++) {
            let c = part + KV_SPLIT * m;
            if (c < chunks) {
              dv[m] += prob * kv_d_out[r * MAX_CHUNKS + c];
              dk[m] += ds * kv_q[r * MAX_CHUNKS + c];
            }
          }
        }
      }
      workgroupBarrier();
    }
  }

  if (j < T) {
    for (var m = 0u; m < KV_SLICE; m++) {
      let c = part + KV_SPLIT * m;
      if (c < chunks) {
        let at = (seq0 + j) * kv_stride + kv_col + c;
        dk_rw[at] = dk[m] * LN2; // kv_q holds q * scale * log2 e; dk wants q * scale
        dv_rw[at] = dv[m];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Backward, step 3: dq_i = scale * sum_j dS_ij k_j. Runs after backward_dkdv, which reads stats from dq.

const DQ_ROWS: u32 = 32u;
const DQ_KEYS: u32 = 8u;
const DQ_SPLIT: u32 = 4u;
const DQ_SLICE: u32 = MAX_CHUNKS / DQ_SPLIT;
const DQ_THREADS: u32 = DQ_ROWS * DQ_SPLIT;

var<workgroup> dq_k: array<vec4<f32>, DQ_KEYS * MAX_CHUNKS>; // 4 KiB
var<workgroup> dq_v: array<vec4<f32>, DQ_KEYS * MAX_CHUNKS>; // 4 KiB
var<workgroup> dq_partial_s: array<f32, DQ_ROWS * DQ_KEYS * DQ_SPLIT>; // [row][key][part]: 4 KiB
var<workgroup> dq_partial_dp: array<f32, DQ_ROWS * DQ_KEYS * DQ_SPLIT>; // 4 KiB

@compute @workgroup_size(DQ_THREADS)
fn backward_dq(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let T = p.seq_len;
  let chunks = p.head_dim / 4u;
  let h = wg.y;
  let seq0 = wg.z * T;
  let q_col = h * chunks;
  let kv_col = (h / (p.heads / p.kv_heads)) * chunks;
  let q_stride = p.heads * chunks;
  let kv_stride = p.kv_heads * chunks;
  let q0 = ((T + DQ_ROWS - 1u) / DQ_ROWS - 1u - wg.x) * DQ_ROWS;
  let row = lane_group(lane, DQ_SPLIT);
  let part = lane_in_group(lane, DQ_SPLIT);
  let i = q0 + row;

  var q: array<vec4<f32>, DQ_SLICE>;
  var d_out: array<vec4<f32>, DQ_SLICE>;
  var dq: array<vec4<f32>, DQ_SLICE>;
  var lse2 = 0.0;
  var delta = 0.0;
  if (i < T) {
    for (var m = 0u; m < DQ_SLICE; m++) {
      let c = part + DQ_SPLIT * m;
      if (c < chunks) {
        let at = (seq0 + i) * q_stride + q_col + c;
        q[m] = q_in[at] * p.scale_log2;
        d_out[m] = d_out_in[at];
      }
    }
    lse2 = lse_in[(seq0 + i) * p.heads + h] * LOG2E;
    delta = delta_in[(seq0 + i) * p.heads + h];
  }

  let last_query = min(q0 + DQ_ROWS, T) - 1u;
  var first_key = 0u;
  if (p.window > 0u && q0 + 1u > p.window) { first_key = q0 + 1u - p.window; }
  for (var k0 = first_key; k0 <= last_query; k0 += DQ_KEYS) {
    for (var e = li; e < DQ_KEYS * chunks; e += DQ_THREADS) {
      let r = e / chunks;
      let c = e % chunks;
      var k_value = vec4<f32>(0.0);
      var v_value = vec4<f32>(0.0);
      if (k0 + r < T) {
        let at = (seq0 + k0 + r) * kv_stride + kv_col + c;
        k_value = k_in[at];
        v_value = v_in[at];
      }
      dq_k[r * MAX_CHUNKS + c] = k_value;
      dq_v[r * MAX_CHUNKS + c] = v_value;
    }
    workgroupBarrier();
    var scores: array<f32, DQ_KEYS>;
    var dps: array<f32, DQ_KEYS>;
    for (var j = 0u; j < DQ_KEYS; j++) {
      var partial_s = 0.0;
      var partial_dp = 0.0;
      for (var m = 0u; m < DQ_SLICE; m++) {
        let c = part + DQ_SPLIT * m;
        if (c < chunks) {
          partial_s += dot(q[m], dq_k[j * MAX_CHUNKS + c]);
          partial_dp += dot(d_out[m], dq_v[j * MAX_CHUNKS + c]);
        }
      }
      if (USE_SUBGROUPS) {
        scores[j] = group_sum(partial_s, lane, DQ_SPLIT);
        dps[j] = group_sum(partial_dp, lane, DQ_SPLIT);
      } else {
        let at = (row * DQ_KEYS + j) * DQ_SPLIT + part;
        dq_partial_s[at] = partial_s;
        dq_partial_dp[at] = partial_dp;
      }
    }
    if (!USE_SUBGROUPS) {
      workgroupBarrier();
      for (var j = 0u; j < DQ_KEYS; j++) {
        let at = (row * DQ_KEYS + j) * DQ_SPLIT;
        var s = 0.0;
        var dp = 0.0;
        for (var t = 0u; t < DQ_SPLIT; t++) {
          s += dq_partial_s[at + t];
          dp += dq_partial_dp[at + t];
        }
        scores[j] = s;
        dps[j] = dp;
      }
    }
    for (var j = 0u; j < DQ_KEYS; j++) {
      let k = k0 + j;
      if (in_band(i, k) && key_is_real(seq0, k)) {
        let s = scores[j];
        let dp = dps[j];
        let ds = exp2(s - lse2) * (dp - delta);
        for (var m = 0u; m < DQ_SLICE; m++) {
          let c = part + DQ_SPLIT * m;
          if (c < chunks) { dq[m] += ds * dq_k[j * MAX_CHUNKS + c]; }
        }
      }
    }
    workgroupBarrier();
  }

  if (i < T) {
    let scale = p.scale_log2 * LN2;
    for (var m = 0u; m < DQ_SLICE; m++) {
      let c = part + DQ_SPLIT * m;
      if (c < chunks) { dq_rw[(seq0 + i) * q_stride + q_col + c] = dq[m] * scale; }
    }
  }
}
