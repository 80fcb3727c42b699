// RMSNorm over the last dimension of [rows, dim] f32 rows.
// forward:  rstd[n] = 1 / sqrt(mean_d x[n,d]^2 + eps),  y[n,d] = x[n,d] * rstd[n] * weight[d]
// backward: dx[n,d] (+)= rstd[n] * (dy[n,d] weight[d] - x[n,d] rstd[n]^2 mean_d(dy[n,d] weight[d] x[n,d]))
// weight grad: dweight[d] (+)= sum_n dy[n,d] x[n,d] rstd[n], deterministic in two passes: weight_grad_partial
// sums chunks of rows into partials[chunk, d], weight_grad_reduce sums the chunks in order.
// forward and backward run one workgroup per row, the row grid split over x and y past 65535 workgroups.

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  accumulate: u32,
  chunk_rows: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// forward
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

// backward
@group(0) @binding(1) var<storage, read> bw_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bw_x: array<f32>;
@group(0) @binding(3) var<storage, read> bw_weight: array<f32>;
@group(0) @binding(4) var<storage, read> bw_rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> bw_dx: array<f32>;

// weight_grad_partial
@group(0) @binding(1) var<storage, read> wg_dy: array<f32>;
@group(0) @binding(2) var<storage, read> wg_x: array<f32>;
@group(0) @binding(3) var<storage, read> wg_rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> wg_partials: array<f32>;

// weight_grad_reduce
@group(0) @binding(1) var<storage, read> red_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> red_dweight: array<f32>;

// workgroup_sum and Lane come from the reduction prelude (reduce_shared.wgsl or reduce_subgroup.wgsl).
const WG: u32 = 256u;
const REDUCE_WG: u32 = WG;

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let row = wg.y * nwg.x + wg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var sum_sq = 0.0;
  for (var d = li; d < p.dim; d += WG) {
    let v = x[base + d];
    sum_sq = fma(v, v, sum_sq);
  }
  let r = inverseSqrt(workgroup_sum(sum_sq, lane) / f32(p.dim) + p.eps);
  for (var d = li; d < p.dim; d += WG) {
    y[base + d] = x[base + d] * r * weight[d];
  }
  if (li == 0u) {
    rstd[row] = r;
  }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let row = wg.y * nwg.x + wg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var dot = 0.0;
  for (var d = li; d < p.dim; d += WG) {
    dot = fma(bw_dy[base + d] * bw_weight[d], bw_x[base + d], dot);
  }
  let r = bw_rstd[row];
  let c = workgroup_sum(dot, lane) / f32(p.dim) * r * r;
  for (var d = li; d < p.dim; d += WG) {
    var g = r * (bw_dy[base + d] * bw_weight[d] - bw_x[base + d] * c);
    if (p.accumulate != 0u) {
      g += bw_dx[base + d];
    }
    bw_dx[base + d] = g;
  }
}

// A workgroup sums COLS columns over one chunk of rows, LANES rows at a time.
const COLS: u32 = 64u;
const LANES: u32 = 4u;
var<workgroup> lane_sums: array<f32, 256>; // [LANES][COLS]

@compute @workgroup_size(64, 4)
fn weight_grad_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg.x * COLS + lid.x;
  let chunk = wg.y;
  let row_end = min((chunk + 1u) * p.chunk_rows, p.rows);
  var acc = 0.0;
  if (col < p.dim) {
    for (var n = chunk * p.chunk_rows + lid.y; n < row_end; n += LANES) {
      let i = n * p.dim + col;
      acc = fma(wg_dy[i] * wg_x[i], wg_rstd[n], acc);
    }
  }
  lane_sums[lid.y * COLS + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && col < p.dim) {
    var total = lane_sums[lid.x];
    for (var lane = 1u; lane < LANES; lane++) {
      total += lane_sums[lane * COLS + lid.x];
    }
    wg_partials[chunk * p.dim + col] = total;
  }
}

@compute @workgroup_size(256)
fn weight_grad_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  if (d >= p.dim) { return; }
  var total = 0.0;
  for (var chunk = 0u; chunk < p.chunks; chunk++) {
    total += red_partials[chunk * p.dim + d];
  }
  if (p.accumulate != 0u) {
    total += red_dweight[d];
  }
  red_dweight[d] = total;
}
