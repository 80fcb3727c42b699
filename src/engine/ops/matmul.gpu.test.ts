import { describe, expect, it } from 'vitest';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { matmul, matmulKernel } from './matmul';
import { matmulRef } from './matmul.reference';

const shapes: [number, number, number][] = onRealGpu
  ? [[1, 1, 1], [64, 64, 64], [67, 45, 33], [256, 384, 200], [1000, 513, 700]]
  : [[1, 1, 1], [64, 64, 64], [67, 45, 33], [5, 130, 17], [96, 80, 129], [300, 8, 50], [16, 70, 90], [17, 17, 5], [68, 100, 36], [130, 72, 20]];

describe('matmul (f32: tiled, and untiled for skinny shapes)', () => {
  for (const [M, N, K] of shapes) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      it(`${M}x${N}x${K} transA=${transA} transB=${transB}`, async () => {
        const gpu = await testGpu();
        const a = randomArray(M * K, 1 + M);
        const b = randomArray(K * N, 2 + N);
        const c0 = randomArray(M * N, 3 + K);
        const alpha = 0.75;
        const beta = transA ? 1 : 0;
        const [ga, gb, gc] = [gpu.upload('a', a), gpu.upload('b', b), gpu.upload('c', c0)];
        await gpu.submit((enc) => matmul(gpu, enc, { a: ga, b: gb, c: gc, M, N, K, transA, transB, alpha, beta }));
        const got = await gpu.readF32(gc, M * N);
        gpu.destroy(ga, gb, gc);
        expect(maxRelError(got, matmulRef(a, b, c0, M, N, K, transA, transB, alpha, beta))).toBeLessThan(1e-5);
      });
    }
  }

  // Leading dimensions padded to multiples of 4 and aligned offsets: the vec4 kernel, with M, N and K off the
  // tile and off the vec4, so that lanes of a row's last vec4 must be zeroed.
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    it(`vec4 loads: 70x75x37, padded rows, offsets, batch 2, transA=${transA} transB=${transB}`, async () => {
      const gpu = await testGpu();
      const [batch, M, N, K] = [2, 70, 75, 37];
      const [aRows, aCols] = transA ? [K, M] : [M, K];
      const [bRows, bCols] = transB ? [N, K] : [K, N];
      const [lda, ldb, ldc] = [aCols + 7 - ((aCols + 7) % 4), bCols + 3 - ((bCols + 3) % 4), N + 2];
      const [aOffset, bOffset, cOffset] = [8, 4, 3];
      const [aStride, bStride, cStride] = [aRows * lda + 4, bRows * ldb, M * ldc + 1];
      const a = randomArray(aOffset + batch * aStride, 6);
      const b = randomArray(bOffset + batch * bStride, 7);
      const c0 = randomArray(cOffset + batch * cStride, 8);
      const [ga, gb, gc] = [gpu.upload('a', a), gpu.upload('b', b), gpu.upload('c', c0)];
      const args = {
        a: ga, b: gb, c: gc, M, N, K, transA, transB, lda, ldb, ldc, aOffset, bOffset, cOffset, batch,
        aBatchStride: aStride, bBatchStride: bStride, cBatchStride: cStride, alpha: 1.5, beta: 0.5,
      };
      expect(matmulKernel(args)).toBe('tiled_vec4');
      await gpu.submit((enc) => matmul(gpu, enc, args));
      const got = await gpu.readF32(gc);
      gpu.destroy(ga, gb, gc);
      for (let z = 0; z < batch; z++) {
        const pack = (src: Float32Array, at: number, rows: number, cols: number, ld: number) =>
          Float32Array.from({ length: rows * cols }, (_, e) => src[at + Math.floor(e / cols) * ld + (e % cols)]);
        const az = pack(a, aOffset + z * aStride, aRows, aCols, lda);
        const bz = pack(b, bOffset + z * bStride, bRows, bCols, ldb);
        const cz = pack(c0, cOffset + z * cStride, M, N, ldc);
        const want = matmulRef(az, bz, cz, M, N, K, transA, transB, 1.5, 0.5);
        expect(maxRelError(pack(got, cOffset + z * cStride, M, N, ldc), want)).toBeLessThan(1e-5);
        // The padding between C's rows is untouched.
        expect(got[cOffset + z * cStride + N]).toBe(c0[cOffset + z * cStride + N]);
      }
    });
  }

  it('picks the vec4 kernel only for aligned operands', async () => {
    const gpu = await testGpu();
    const [a, b, c] = [gpu.buffer('a', 4 * 64 * 64), gpu.buffer('b', 4 * 64 * 64), gpu.buffer('c', 4 * 64 * 64)];
    const base = { a, b, c, M: 64, N: 64, K: 64 };
    expect(matmulKernel(base)).toBe('tiled_vec4');
    expect(matmulKernel({ ...base, M: 63, K: 63, transB: true })).toBe('tiled'); // B's rows of 63 are not aligned
    expect(matmulKernel({ ...base, K: 60, aOffset: 2 })).toBe('tiled');
    expect(matmulKernel({ ...base, K: 60, aOffset: 4 })).toBe('tiled_vec4');
    expect(matmulKernel({ ...base, K: 64, aOffset: 4 })).toBe('tiled'); // the last row's vec4 is past the buffer
    expect(matmulKernel({ ...base, M: 16 })).toBe('skinny');
    gpu.destroy(a, b, c);
  });

  it('batched with offsets and leading dimensions', async () => {
    const gpu = await testGpu();
    const [batch, M, N, K, lda] = [3, 19, 70, 21, 25];
    const a = randomArray(5 + batch * M * lda, 4);
    const b = randomArray(batch * K * N, 5);
    const ga = gpu.upload('a', a);
    const gb = gpu.upload('b', b);
    const gc = gpu.buffer('c', batch * M * N * 4);
    await gpu.submit((enc) =>
      matmul(gpu, enc, {
        a: ga, b: gb, c: gc, M, N, K, lda, aOffset: 5, batch,
        aBatchStride: M * lda, bBatchStride: K * N, cBatchStride: M * N,
      }),
    );
    const got = await gpu.readF32(gc);
    gpu.destroy(ga, gb, gc);
    for (let z = 0; z < batch; z++) {
      const az = new Float32Array(M * K);
      for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) az[i * K + k] = a[5 + z * M * lda + i * lda + k];
      const bz = b.subarray(z * K * N, (z + 1) * K * N);
      const want = matmulRef(az, bz, new Float32Array(M * N), M, N, K, false, false, 1, 0);
      expect(maxRelError(got.subarray(z * M * N, (z + 1) * M * N), want)).toBeLessThan(1e-5);
    }
  });
});
