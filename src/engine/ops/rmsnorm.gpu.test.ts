import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../gpu/gpu';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { rmsnormBackward, rmsnormForward, rmsnormWeightGrad } from './rmsnorm';
import { rmsnormBackwardRef, rmsnormForwardRef, rmsnormWeightGradRef } from './rmsnorm.reference';
import { gpuFor, REDUCTION_PATHS } from './reduce.testing';
import type { ReduceOptions } from './reduce';

/** L = sum(dy * y) with the forward in float64. */
function loss(
  dy: Float32Array, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number,
): number {
  const { y } = rmsnormForwardRef(x, w, rows, dim, eps);
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += dy[i] * y[i];
  return sum;
}

/** Central differences of f at every element of v. */
function numericGrad(v: Float32Array, f: (v: Float64Array) => number, h = 1e-4): Float64Array {
  const at = Float64Array.from(v);
  const grad = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    at[i] = v[i] + h;
    const plus = f(at);
    at[i] = v[i] - h;
    const minus = f(at);
    at[i] = v[i];
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

interface Outputs {
  y: Float32Array;
  rstd: Float32Array;
  dx: Float32Array;
  dweight: Float32Array;
}

/** Forward, backward and weight grad on the GPU; dx and dweight start from dx0 / dw0 when accumulating. */
async function runRmsnorm(
  gpu: Gpu, x: Float32Array, w: Float32Array, dy: Float32Array, rows: number, dim: number, eps: number,
  accumulate: boolean, dx0: Float32Array, dw0: Float32Array, reduce: ReduceOptions = {},
): Promise<Outputs> {
  const buffers = {
    x: gpu.upload('x', x),
    weight: gpu.upload('weight', w),
    dy: gpu.upload('dy', dy),
    y: gpu.buffer('y', rows * dim * 4),
    rstd: gpu.buffer('rstd', rows * 4),
    dx: gpu.upload('dx', dx0),
    dweight: gpu.upload('dweight', dw0),
  };
  const b = buffers;
  await gpu.submit((enc) => {
    rmsnormForward(gpu, enc, { x: b.x, weight: b.weight, y: b.y, rstd: b.rstd, rows, dim, eps, ...reduce });
    rmsnormBackward(gpu, enc, { dy: b.dy, x: b.x, weight: b.weight, rstd: b.rstd, dx: b.dx, rows, dim, accumulate, ...reduce });
    rmsnormWeightGrad(gpu, enc, { dy: b.dy, x: b.x, rstd: b.rstd, dweight: b.dweight, rows, dim, accumulate });
  });
  const out = {
    y: await gpu.readF32(b.y, rows * dim),
    rstd: await gpu.readF32(b.rstd, rows),
    dx: await gpu.readF32(b.dx, rows * dim),
    dweight: await gpu.readF32(b.dweight, dim),
  };
  gpu.destroy(...Object.values(buffers));
  return out;
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);

const shapes: [number, number][] = onRealGpu
  ? [[1, 64], [7, 96], [33, 100], [33, 257], [300, 100], [4096, 4096], [5000, 8192]]
  : [[1, 64], [7, 96], [33, 100], [7, 257], [1, 8192], [3, 1000], [190, 40], [130, 96]];

describe.each(REDUCTION_PATHS)('rmsnorm, reductions through $name', (path) => {
  for (const [rows, dim] of shapes) {
    for (const accumulate of [false, true]) {
      it(`rows=${rows} dim=${dim} accumulate=${accumulate}`, async ({ skip }) => {
        const gpu = await gpuFor(path, skip);
        const eps = accumulate ? 0.5 : 1e-5;
        const x = randomArray(rows * dim, rows + dim, 2);
        // An all-zero row (rstd = 1/sqrt(eps)) where eps is large enough not to dwarf the other rows.
        if (accumulate && rows > 1) x.fill(0, 0, dim);
        const w = randomArray(dim, dim + 1);
        const dy = randomArray(rows * dim, rows * dim + 2);
        const dx0 = accumulate ? randomArray(rows * dim, 3) : new Float32Array(rows * dim).fill(NaN);
        const dw0 = accumulate ? randomArray(dim, 4) : new Float32Array(dim).fill(NaN);
        const got = await runRmsnorm(gpu, x, w, dy, rows, dim, eps, accumulate, dx0, dw0, path);

        const want = rmsnormForwardRef(x, w, rows, dim, eps);
        expect(maxRelError(got.y, want.y)).toBeLessThan(1e-5);
        expect(maxRelError(got.rstd, want.rstd)).toBeLessThan(1e-5);
        let dx = rmsnormBackwardRef(dy, x, w, want.rstd, rows, dim);
        let dw = rmsnormWeightGradRef(dy, x, want.rstd, rows, dim);
        if (accumulate) {
          dx = plus(dx, dx0);
          dw = plus(dw, dw0);
        }
        expect(maxRelError(got.dx, dx)).toBeLessThan(1e-5);
        expect(maxRelError(got.dweight, dw)).toBeLessThan(1e-5);
      });
    }
  }
});

describe('rmsnorm', () => {
  it('backward matches finite differences of L = sum(dy * y)', async () => {
    const gpu = await testGpu();
    for (const [rows, dim, eps] of [[3, 37, 1e-5], [2, 300, 0.1]]) {
      const x = randomArray(rows * dim, 50 + dim, 1.5);
      const w = randomArray(dim, 51 + dim);
      const dy = randomArray(rows * dim, 52 + dim);
      const [dx0, dw0] = [new Float32Array(rows * dim), new Float32Array(dim)];
      const got = await runRmsnorm(gpu, x, w, dy, rows, dim, eps, false, dx0, dw0);
      const dxNumeric = numericGrad(x, (xv) => loss(dy, xv, w, rows, dim, eps));
      const dwNumeric = numericGrad(w, (wv) => loss(dy, x, wv, rows, dim, eps));
      expect(maxRelError(got.dx, dxNumeric)).toBeLessThan(1e-5);
      expect(maxRelError(got.dweight, dwNumeric)).toBeLessThan(1e-5);
    }
  });

  it('weight grad is deterministic', async () => {
    const gpu = await testGpu();
    const [rows, dim] = [130, 70];
    const x = randomArray(rows * dim, 60);
    const w = randomArray(dim, 61);
    const dy = randomArray(rows * dim, 62);
    const zeros = [new Float32Array(rows * dim), new Float32Array(dim)] as const;
    const first = await runRmsnorm(gpu, x, w, dy, rows, dim, 1e-5, false, ...zeros);
    const second = await runRmsnorm(gpu, x, w, dy, rows, dim, 1e-5, false, ...zeros);
    expect(second.dweight).toEqual(first.dweight);
  });
});
