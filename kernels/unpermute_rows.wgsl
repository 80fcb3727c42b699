// Undoes llama.cpp's Q/K row permutation on raw tensor bytes (any GGML type: a row is whole blocks, so rows
// move without decoding). Per head of head_dim rows, HF row i < head_dim/2 is stored as row 2i and HF row
// head_dim/2 + i as row 2i + 1 (src/model/gguf/spec.ts, qkRowOrder). Rows may be any number of bytes, so one
// thread assembles one output word from its 4 bytes; the grid may be split over x and y.

struct Params {
  rows: u32,
  row_bytes: u32,
  head_dim: u32,
  words: u32,      // output words: ceil(rows * row_bytes / 4)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> source: array<u32>;     // rows in llama.cpp's order
@group(0) @binding(2) var<storage, read_write> out: array<u32>;  // rows in HF order

const WORKGROUP: u32 = 64u;

// The stored row that holds HF row r.
fn stored_row(r: u32) -> u32 {
  let head = r / p.head_dim;
  let i = r % p.head_dim;
  let half = p.head_dim / 2u;
  if (i < half) { return head * p.head_dim + 2u * i; }
  return head * p.head_dim + 2u * (i - half) + 1u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let word = (wg.y * grid.x + wg.x) * WORKGROUP + li;
  if (word >= p.words) { return; }
  let total = p.rows * p.row_bytes;
  var value = 0u;
  for (var k = 0u; k < 4u; k++) {
    let b = 4u * word + k;
    if (b >= total) { break; }
    let r = b / p.row_bytes;
    let at = stored_row(r) * p.row_bytes + (b - r * p.row_bytes);
    value |= ((source[at >> 2u] >> ((at & 3u) * 8u)) & 0xFFu) << (8u * k);
  }
  out[word] = value;
}
