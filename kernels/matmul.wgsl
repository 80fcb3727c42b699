// C = alpha * op(A) op(B) + beta * C, f32, batched.
// op(A) is M x K and op(B) is K x N, read through element strides, so any transpose is a choice of strides.
// A 64x64 tile of C per workgroup of 16x16 threads, 4x4 outputs per thread, K in steps of 16.

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
