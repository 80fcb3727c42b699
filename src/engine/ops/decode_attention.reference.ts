// CPU reference of kernels/decode_attention.wgsl, in float64.
import type { DecodeShape } from './decode_attention';

/** The cache after appending the new rows k, v [batch, kvHeads * headDim] at each sequence's position. */
export function appendKvReference(shape: DecodeShape, cache: Float32Array, rows: Float32Array, positions: ArrayLike<number>): Float32Array {
  const width = shape.kvHeads * shape.headDim;
  const out = cache.slice();
  for (let b = 0; b < shape.batch; b++) out.set(rows.subarray(b * width, (b + 1) * width), (b * shape.capacity + positions[b]) * width);
  return out;
}

/** out [batch, heads * headDim]: each query over its sequence's cached keys 0..positions[b] (windowed). */
export function attendCacheReference(
  shape: DecodeShape, q: Float32Array, kCache: Float32Array, vCache: Float32Array, positions: ArrayLike<number>,
): Float32Array {
  const { batch, capacity, heads, kvHeads, headDim: hd, window } = shape;
  const width = kvHeads * hd;
  const out = new Float32Array(batch * heads * hd);
  for (let b = 0; b < batch; b++) {
    const last = positions[b];
    const first = window > 0 ? Math.max(0, last + 1 - window) : 0;
    for (let h = 0; h < heads; h++) {
      const kvHead = Math.floor(h / (heads / kvHeads));
      const qAt = (b * heads + h) * hd;
      const scores: number[] = [];
      for (let j = first; j <= last; j++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[qAt + d] * kCache[(b * capacity + j) * width + kvHead * hd + d];
        scores.push(dot / Math.sqrt(hd));
      }
      const max = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - max));
      const sum = weights.reduce((a, w) => a + w, 0);
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        weights.forEach((w, i) => (acc += w * vCache[(b * capacity + first + i) * width + kvHead * hd + d]));
        out[qAt + d] = acc / sum;
      }
    }
  }
  return out;
}
