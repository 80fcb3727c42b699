// Rows [first_row, first_row + rows) of a GGML-encoded matrix [R, cols] (raw blocks, row after row) decoded
// into f32 [rows, cols]. One thread decodes 8 consecutive values of a row (dequant8, kernels/ggml_blocks.wgsl,
// which the wrapper appends); neighbouring threads write neighbouring 32-byte runs. The grid may be split over
// x and y (src/engine/ops/dispatch.ts). Pipelines are made per TYPE (the GGML type id).

struct Params {
  cols: u32,
  first_row: u32,
  rows: u32,
  row_bytes: u32,  // bytes of one encoded row
  groups: u32,     // groups of 8 values per row: ceil(cols / 8)
}

override TYPE: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WORKGROUP: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let item = (wg.y * grid.x + wg.x) * WORKGROUP + li;
  if (item >= p.rows * p.groups) { return; }
  let row = item / p.groups;
  let col = 8u * (item % p.groups);
  let v = dequant8((p.first_row + row) * p.row_bytes, col, p.cols);
  let at = row * p.cols + col;
  for (var i = 0u; i < 8u; i++) {
    if (col + i < p.cols) { out[at + i] = v[i]; }
  }
}
