// Embedding gather and its gradient, [vocab, dim] table, u32 token ids.
// forward:  out[n, d] = table[ids[n] - first_row, d] for the ids in this part of the table
//   [first_row, first_row + table rows); with zero_others set, 0 for the other ids (the first part of a split
//   table writes every row, later parts overwrite theirs).
// forward_quant: the same from a part held as raw GGML blocks (part_rows rows of row_bytes bytes): each thread
//   decodes 8 values of the token's row (dequant8 of kernels/ggml_blocks.wgsl, which the wrapper appends).
// backward: dTable[tokens[g], d] += sum of dOut[row, d] over row_list[offsets[g] .. offsets[g + 1]]
//   The rows are grouped by token on the CPU (a CSR), so each table row has one writer: no atomics, and the sum
//   runs in row order, so the result is deterministic.
// Each workgroup handles 256 columns (forward_quant: 2048) of one row (forward) or one group (backward); the 1-D grid of
// items * col_tiles workgroups is split over x and y past 65535 (src/engine/ops/dispatch.ts).

struct Params {
  items: u32,  // rows (forward) or token groups (backward)
  dim: u32,
  col_tiles: u32,
  first_row: u32,  // forward
  zero_others: u32,  // forward
  part_rows: u32,  // forward_quant
  row_bytes: u32,  // forward_quant
}

override TYPE: u32 = 0u;  // forward_quant: the GGML type id

@group(0) @binding(0) var<uniform> p: Params;

// forward
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// forward_quant (ids and out as forward)
@group(0) @binding(2) var<storage, read> w: array<u32>;

// backward
@group(0) @binding(1) var<storage, read> d_out: array<f32>;
@group(0) @binding(2) var<storage, read> group_tokens: array<u32>;
@group(0) @binding(3) var<storage, read> group_offsets: array<u32>;
@group(0) @binding(4) var<storage, read> group_rows: array<u32>;
@group(0) @binding(5) var<storage, read_write> d_table: array<f32>;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let linear = wg.y * nwg.x + wg.x;
  let row = linear / p.col_tiles;
  let col = (linear % p.col_tiles) * WG + li;
  if (row >= p.items || col >= p.dim) { return; }
  let token = ids[row];
  if (token >= p.first_row && token - p.first_row < arrayLength(&table) / p.dim) {
    out[row * p.dim + col] = table[(token - p.first_row) * p.dim + col];
  } else if (p.zero_others != 0u) {
    out[row * p.dim + col] = 0.0;
  }
}

@compute @workgroup_size(256)
fn forward_quant(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
  let linear = wg.y * nwg.x + wg.x;
  let row = linear / p.col_tiles;
  let col = 8u * ((linear % p.col_tiles) * WG + li);
  if (row >= p.items || col >= p.dim) { return; }
  let token = ids[row];
  let at = row * p.dim + col;
  if (token >= p.first_row && token - p.first_row < p.part_rows) {
    let v = dequant8((token - p.first_row) * p.row_bytes, col, p.dim);
    for (var i = 0u; i < 8u; i++) {
      if (col + i < p.dim) { out[at + i] = v[i]; }
    }
  } else if (p.zero_others != 0u) {
    for (var i = 0u; i < 8u; i++) {
      if (col + i < p.dim) { out[at + i] = 0.0; }
    }
  }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let linear = wg.y * nwg.x + wg.x;
  let group = linear / p.col_tiles;
  let col = (linear % p.col_tiles) * WG + li;
  if (group >= p.items || col >= p.dim) { return; }
  var sum = 0.0;
  for (var i = group_offsets[group]; i < group_offsets[group + 1u]; i++) {
    sum += d_out[group_rows[i] * p.dim + col];
  }
  let target_index = group_tokens[group] * p.dim + col;
  d_table[target_index] += sum;
}
