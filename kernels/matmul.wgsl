// C = alpha * op(A) op(B) + beta * C, f32, batched.
// op(A) is M x K and op(B) is K x N, read through element strides, so any transpose is a choice of strides.
// A 64x64 tile of C per workgroup of 16x16 threads, 4x4 outputs per thread, K in steps of 16.
// main reads A and B element by element through any strides; main_vec4 (for operands whose contiguous rows
// start on 16-byte boundaries) reads them as vec4s and keeps its tiles and registers in vec4s.

struct Params {
  M: u32, N: u32, K: u32, _pad: u32,
  a_row: u32, a_col: u32, a_batch: u32, a_offset: u32,
  b_row: u32, b_col: u32, b_batch: u32, b_offset: u32,
  c_row: u32, c_batch: u32, c_offset: u32, _pad2: u32,
  alpha: f32, beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> a_tile: array<f32, 1024>; // [TK][TILE]
var<workgroup> b_tile: array<f32, 1024>; // [TK][TILE]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TILE;
  let col0 = wg.x * TILE;
  let a_base = p.a_offset + wg.z * p.a_batch;
  let b_base = p.b_offset + wg.z * p.b_batch;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = li + i * 256u;
      // A: consecutive threads walk k for one row; B: consecutive threads walk n for one k.
      let am = e / TK;
      let ak = e % TK;
      var av = 0.0;
      if (row0 + am < p.M && k0 + ak < p.K) {
        av = a[a_base + (row0 + am) * p.a_row + (k0 + ak) * p.a_col];
      }
      a_tile[ak * TILE + am] = av;
      let bk = e / TILE;
      let bn = e % TILE;
      var bv = 0.0;
      if (k0 + bk < p.K && col0 + bn < p.N) {
        bv = b[b_base + (k0 + bk) * p.b_row + (col0 + bn) * p.b_col];
      }
      b_tile[bk * TILE + bn] = bv;
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = a_tile[k * TILE + lid.y + 16u * i];
        bv[i] = b_tile[k * TILE + lid.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  let c_base = p.c_offset + wg.z * p.c_batch;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y + 16u * i;
    if (row >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + 16u * j;
      if (col >= p.N) { continue; }
      let idx = c_base + row * p.c_row + col;
      var value = p.alpha * acc[i * 4u + j];
      if (p.beta != 0.0) { value += p.beta * c[idx]; }
      c[idx] = value;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// main_vec4: the same tiling with vec4 loads. TRANS_A: A is stored [K, M] (contiguous along m), else [M, K]
// (contiguous along k); TRANS_B: B is stored [N, K], else [K, N]. The wrapper picks it only when the leading
// dimensions, offsets and batch strides are multiples of 4 and the buffers hold every vec4 a row touches, so a
// vec4 never straddles two rows; lanes past M, N or K are zeroed. Thread (x, y) owns rows 4y..4y+3 and columns
// 4x..4x+3 of the tile, so each step of k reads one vec4 of A and one of B from workgroup memory.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;

var<workgroup> a_tile4: array<vec4<f32>, 256>; // [TK][TILE / 4] over m
var<workgroup> b_tile4: array<vec4<f32>, 256>; // [TK][TILE / 4] over n

// Zeroes the lanes of v whose index first + lane is not below limit.
fn keep_below(v: vec4<f32>, first: u32, limit: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(limit));
}

@compute @workgroup_size(16, 16)
fn main_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TILE;
  let col0 = wg.x * TILE;
  let a_base = p.a_offset + wg.z * p.a_batch;
  let b_base = p.b_offset + wg.z * p.b_batch;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // One vec4 of A and one of B per thread.
    if (TRANS_A) {
      let k = li / 16u;
      let m = (li % 16u) * 4u;
      var v = vec4<f32>(0.0);
      if (k0 + k < p.K && row0 + m < p.M) {
        v = keep_below(a4[(a_base + (k0 + k) * p.a_col + row0 + m) / 4u], row0 + m, p.M);
      }
      a_tile4[li] = v;
    } else {
      let m = li / 4u;
      let k = (li % 4u) * 4u;
      var v = vec4<f32>(0.0);
      if (row0 + m < p.M && k0 + k < p.K) {
        v = keep_below(a4[(a_base + (row0 + m) * p.a_row + k0 + k) / 4u], k0 + k, p.K);
      }
      for (var l = 0u; l < 4u; l++) {
        a_tile4[(k + l) * 16u + m / 4u][m % 4u] = v[l];
      }
    }
    if (TRANS_B) {
      let n = li / 4u;
      let k = (li % 4u) * 4u;
      var v = vec4<f32>(0.0);
      if (col0 + n < p.N && k0 + k < p.K) {
        v = keep_below(b4[(b_base + (col0 + n) * p.b_col + k0 + k) / 4u], k0 + k, p.K);
      }
      for (var l = 0u; l < 4u; l++) {
        b_tile4[(k + l) * 16u + n / 4u][n % 4u] = v[l];
      }
    } else {
      let k = li / 16u;
      let n = (li % 16u) * 4u;
      var v = vec4<f32>(0.0);
      if (k0 + k < p.K && col0 + n < p.N) {
        v = keep_below(b4[(b_base + (k0 + k) * p.b_row + col0 + n) / 4u], col0 + n, p.N);
      }
      b_tile4[li] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let av = a_tile4[k * 16u + lid.y];
      let bv = b_tile4[k * 16u + lid.x];
      acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
    }
    workgroupBarrier();
  }
  let c_base = p.c_offset + wg.z * p.c_batch;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (col >= p.N) { break; }
      let idx = c_base + row * p.c_row + col;
      var value = p.alpha * acc[i][j];
      if (p.beta != 0.0) { value += p.beta * c[idx]; }
      c[idx] = value;
    }
  }
}

// Skinny products (min(M, N) <= 16, as the LoRA branches are): one thread per output, looping over K.
// A 64x64 tile would leave most of its threads idle, and the tile's barriers cost more than they save.
@compute @workgroup_size(64)
fn skinny(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 64u + li;
  if (i >= p.M * p.N) { return; }
  let row = i / p.N;
  let col = i % p.N;
  let a_base = p.a_offset + wg.z * p.a_batch + row * p.a_row;
  let b_base = p.b_offset + wg.z * p.b_batch + col * p.b_col;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc = fma(a[a_base + k * p.a_col], b[b_base + k * p.b_row], acc);
  }
  let idx = p.c_offset + wg.z * p.c_batch + row * p.c_row + col;
  var value = p.alpha * acc;
  if (p.beta != 0.0) { value += p.beta * c[idx]; }
  c[idx] = value;
}
