// CPU reference of kernels/attention.wgsl in float64, shared by its test and the kernel benchmark.
import type { AttentionShape } from './attention';

export interface AttentionInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** u32 [N]: 1 for real tokens, 0 for padding. */
  mask: Uint32Array;
  dOut: Float32Array;
}

/** The keys query t of sequence b sees, by the HF eager-attention rule. */
function visibleKeys(c: AttentionShape, mask: Uint32Array, b: number, t: number): number[] {
  const keys: number[] = [];
  for (let j = 0; j <= t; j++) {
    if (mask[b * c.seqLen + j] === 1 && (c.window === 0 || t - j < c.window)) keys.push(j);
  }
  return keys;
}

/** Float64 forward that materialises the scores of each query row. */
export function attentionRef(c: AttentionShape, x: { q: ArrayLike<number>; k: ArrayLike<number>; v: ArrayLike<number>; mask: Uint32Array }) {
  const { batch, seqLen: T, heads: H, kvHeads: Hkv, headDim: D } = c;
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(batch * T * H * D);
  const lse = new Float64Array(batch * T * H);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / Hkv));
      for (let t = 0; t < T; t++) {
        const n = b * T + t;
        const keys = visibleKeys(c, x.mask, b, t);
        if (keys.length === 0) continue;
        const scores = keys.map((j) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += x.q[(n * H + h) * D + d] * x.k[((b * T + j) * Hkv + g) * D + d];
          return s * scale;
        });
        const max = Math.max(...scores);
        const sum = scores.reduce((acc, s) => acc + Math.exp(s - max), 0);
        lse[n * H + h] = max + Math.log(sum);
        keys.forEach((j, idx) => {
          const prob = Math.exp(scores[idx] - lse[n * H + h]);
          for (let d = 0; d < D; d++) out[(n * H + h) * D + d] += prob * x.v[((b * T + j) * Hkv + g) * D + d];
        });
      }
    }
  }
  return { out, lse };
}

/** Float64 reference gradients of L = sum(dOut * out). */
export function attentionBackwardRef(c: AttentionShape, x: AttentionInputs) {
  const { batch, seqLen: T, heads: H, kvHeads: Hkv, headDim: D } = c;
  const scale = 1 / Math.sqrt(D);
  const { out, lse } = attentionRef(c, x);
  const dq = new Float64Array(x.q.length);
  const dk = new Float64Array(x.k.length);
  const dv = new Float64Array(x.v.length);
  const delta = new Float64Array(batch * T * H);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / Hkv));
      for (let t = 0; t < T; t++) {
        const qi = ((b * T + t) * H + h) * D;
        for (let d = 0; d < D; d++) delta[(b * T + t) * H + h] += x.dOut[qi + d] * out[qi + d];
        for (const j of visibleKeys(c, x.mask, b, t)) {
          const kj = ((b * T + j) * Hkv + g) * D;
          let s = 0;
          let dp = 0;
          for (let d = 0; d < D; d++) {
            s += x.q[qi + d] * x.k[kj + d];
            dp += x.dOut[qi + d] * x.v[kj + d];
          }
          const prob = Math.exp(s * scale - lse[(b * T + t) * H + h]);
          const ds = prob * (dp - delta[(b * T + t) * H + h]);
          for (let d = 0; d < D; d++) {
            dq[qi + d] += scale * ds * x.k[kj + d];
            dk[kj + d] += scale * ds * x.q[qi + d];
            dv[kj + d] += prob * x.dOut[qi + d];
          }
        }
      }
    }
  }
  return { out, lse, delta, dq, dk, dv };
}
