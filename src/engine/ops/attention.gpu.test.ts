import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../gpu/gpu';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { mulberry32, randomArray } from '../../util/random';
import { attentionBackward, attentionForward, type AttentionShape } from './attention';
import { type AttentionInputs, attentionBackwardRef, attentionRef } from './attention.reference';
import type { ReduceOptions } from './reduce';
import { gpuFor, REDUCTION_PATHS } from './reduce.testing';

interface Case extends AttentionShape {
  /** Padding tokens at the start and end of each sequence (default none). */
  padding?: [number, number][];
}

function makeInputs(c: Case, seed: number): AttentionInputs {
  const N = c.batch * c.seqLen;
  const mask = new Uint32Array(N).fill(1);
  c.padding?.forEach(([left, right], b) => {
    for (let t = 0; t < c.seqLen; t++) if (t < left || t >= c.seqLen - right) mask[b * c.seqLen + t] = 0;
  });
  return {
    q: randomArray(N * c.heads * c.headDim, seed, 2),
    k: randomArray(N * c.kvHeads * c.headDim, seed + 1, 2),
    v: randomArray(N * c.kvHeads * c.headDim, seed + 2),
    mask,
    dOut: randomArray(N * c.heads * c.headDim, seed + 3),
  };
}

/** A buffer of NaNs: any element a kernel forgets to write fails the comparison. */
function nanBuffer(gpu: Gpu, label: string, length: number): GPUBuffer {
  return gpu.upload(label, new Float32Array(length).fill(NaN));
}

async function runGpu(c: AttentionShape, x: AttentionInputs, reduce: ReduceOptions = {}, device?: Gpu) {
  const gpu = device ?? (await testGpu());
  const N = c.batch * c.seqLen;
  const q = gpu.upload('q', x.q);
  const k = gpu.upload('k', x.k);
  const v = gpu.upload('v', x.v);
  const mask = gpu.upload('mask', x.mask);
  const dOut = gpu.upload('dOut', x.dOut);
  const out = nanBuffer(gpu, 'out', x.q.length);
  const lse = nanBuffer(gpu, 'lse', N * c.heads);
  const delta = nanBuffer(gpu, 'delta', N * c.heads);
  const dq = nanBuffer(gpu, 'dq', x.q.length);
  const dk = nanBuffer(gpu, 'dk', x.k.length);
  const dv = nanBuffer(gpu, 'dv', x.v.length);
  const shape: AttentionShape = {
    batch: c.batch, seqLen: c.seqLen, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, window: c.window,
  };
  await gpu.submit((encoder) => {
    attentionForward(gpu, encoder, { ...shape, q, k, v, mask, out, lse, ...reduce });
    attentionBackward(gpu, encoder, { ...shape, q, k, v, mask, out, lse, dOut, dq, dk, dv, delta, ...reduce });
  });
  const result = {
    out: await gpu.readF32(out),
    lse: await gpu.readF32(lse),
    delta: await gpu.readF32(delta),
    dq: await gpu.readF32(dq),
    dk: await gpu.readF32(dk),
    dv: await gpu.readF32(dv),
  };
  gpu.destroy(q, k, v, mask, dOut, out, lse, delta, dq, dk, dv);
  return result;
}

const cases: (Case & { name: string })[] = [
  { name: 'T=37, MHA, hd 16', batch: 1, seqLen: 37, heads: 2, kvHeads: 2, headDim: 16, window: 0 },
  {
    name: 'T=50, B=2 right-padded, GQA 4/2, hd 16',
    batch: 2, seqLen: 50, heads: 4, kvHeads: 2, headDim: 16, window: 0, padding: [[0, 0], [0, 13]],
  },
  {
    name: 'T=70, B=2 right-padded, GQA 6/2, hd 32',
    batch: 2, seqLen: 70, heads: 6, kvHeads: 2, headDim: 32, window: 0, padding: [[0, 0], [0, 22]],
  },
  { name: 'T=45, MQA 4/1, hd 8, window 16', batch: 1, seqLen: 45, heads: 4, kvHeads: 1, headDim: 8, window: 16 },
  {
    name: 'T=70, B=2 right-padded, GQA 4/2, hd 16, window 16',
    batch: 2, seqLen: 70, heads: 4, kvHeads: 2, headDim: 16, window: 16, padding: [[0, 0], [0, 9]],
  },
  {
    name: 'T=33, left padding (queries that see no key), MQA, hd 20, window 5',
    batch: 2, seqLen: 33, heads: 2, kvHeads: 1, headDim: 20, window: 5, padding: [[6, 0], [3, 4]],
  },
  { name: 'T=20, hd 128, GQA 2/1', batch: 1, seqLen: 20, heads: 2, kvHeads: 1, headDim: 128, window: 0 },
];
if (onRealGpu) {
  cases.push(
    {
      name: 'real GPU: T=600, B=2 right-padded, GQA 8/2, hd 128',
      batch: 2, seqLen: 600, heads: 8, kvHeads: 2, headDim: 128, window: 0, padding: [[0, 0], [0, 77]],
    },
    { name: 'real GPU: T=700, GQA 4/1, hd 64, window 100', batch: 1, seqLen: 700, heads: 4, kvHeads: 1, headDim: 64, window: 100 },
  );
}

describe.each(REDUCTION_PATHS)('attention (tiled, causal, GQA, padding, sliding window), row sums through $name', (path) => {
  cases.forEach((c, index) => {
    it(`forward and backward match the float64 reference: ${c.name}`, async ({ skip }) => {
      const gpu = await gpuFor(path, skip);
      const x = makeInputs(c, 100 + 10 * index);
      const got = await runGpu(c, x, path, gpu);
      const want = attentionBackwardRef(c, x);
      expect(maxRelError(got.out, want.out)).toBeLessThan(1e-5);
      expect(maxRelError(got.lse, want.lse)).toBeLessThan(1e-5);
      expect(maxRelError(got.delta, want.delta)).toBeLessThan(1e-5);
      expect(maxRelError(got.dq, want.dq)).toBeLessThan(1e-4);
      expect(maxRelError(got.dk, want.dk)).toBeLessThan(1e-4);
      expect(maxRelError(got.dv, want.dv)).toBeLessThan(1e-4);
    });
  });
});

describe('attention (tiled, causal, GQA, padding, sliding window)', () => {
  it('queries that see no key get output 0 and gradient 0', async () => {
    const c: Case = { batch: 1, seqLen: 12, heads: 2, kvHeads: 1, headDim: 8, window: 0, padding: [[5, 0]] };
    const x = makeInputs(c, 7);
    const got = await runGpu(c, x);
    const rowLength = c.heads * c.headDim;
    for (let t = 0; t < 5; t++) {
      expect(Array.from(got.out.subarray(t * rowLength, (t + 1) * rowLength))).toEqual(new Array(rowLength).fill(0));
      expect(Array.from(got.dq.subarray(t * rowLength, (t + 1) * rowLength))).toEqual(new Array(rowLength).fill(0));
    }
    // Padded keys are seen by nobody.
    expect(got.dk.subarray(0, 5 * c.kvHeads * c.headDim).every((value) => value === 0)).toBe(true);
    expect(got.dv.subarray(0, 5 * c.kvHeads * c.headDim).every((value) => value === 0)).toBe(true);
  });
});

/** Central differences of L = sum(dOut * out) of the float64 forward, at the given entries of q, k or v. */
function numericGradient(c: AttentionShape, x: AttentionInputs, tensor: 'q' | 'k' | 'v', entries: number[]): number[] {
  const eps = 1e-5;
  const base = { q: Float64Array.from(x.q), k: Float64Array.from(x.k), v: Float64Array.from(x.v), mask: x.mask };
  const loss = () => attentionRef(c, base).out.reduce((acc, value, i) => acc + value * x.dOut[i], 0);
  return entries.map((e) => {
    const saved = base[tensor][e];
    base[tensor][e] = saved + eps;
    const plus = loss();
    base[tensor][e] = saved - eps;
    const minus = loss();
    base[tensor][e] = saved;
    return (plus - minus) / (2 * eps);
  });
}

describe('attention backward against finite differences', () => {
  const fdCases: { name: string; c: Case; entriesPerTensor: number }[] = [
    {
      name: 'every entry, B=2 left/right padded, MQA, window 5',
      c: { batch: 2, seqLen: 11, heads: 2, kvHeads: 1, headDim: 8, window: 5, padding: [[2, 0], [0, 3]] },
      entriesPerTensor: Infinity,
    },
    {
      name: 'sampled entries, T=37, B=2 right-padded, GQA 4/2, hd 16',
      c: { batch: 2, seqLen: 37, heads: 4, kvHeads: 2, headDim: 16, window: 0, padding: [[0, 0], [0, 8]] },
      entriesPerTensor: 40,
    },
  ];
  for (const { name, c, entriesPerTensor } of fdCases) {
    it(name, async () => {
      const x = makeInputs(c, 55);
      const got = await runGpu(c, x);
      const random = mulberry32(9);
      for (const tensor of ['q', 'k', 'v'] as const) {
        const length = x[tensor].length;
        const entries =
          entriesPerTensor >= length
            ? Array.from({ length }, (_, i) => i)
            : Array.from({ length: entriesPerTensor }, () => Math.floor(random() * length));
        const numeric = numericGradient(c, x, tensor, entries);
        const gpuGradient = { q: got.dq, k: got.dk, v: got.dv }[tensor];
        const analytic = entries.map((e) => gpuGradient[e]);
        expect(maxRelError(analytic, numeric), tensor).toBeLessThan(1e-4);
      }
    });
  }
});
