import { describe, expect, it } from 'vitest';
import { maxRelError, onRealGpu, testGpu } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { matmul } from './matmul';
import { matmulRef } from './matmul.reference';

const shapes: [number, number, number][] = onRealGpu
  ? [[1, 1, 1], [64, 64, 64], [67, 45, 33], [256, 384, 200], [1000, 513, 700]]
  : [[1, 1, 1], [64, 64, 64], [67, 45, 33], [5, 130, 17], [96, 80, 129], [300, 8, 50], [16, 70, 90], [17, 17, 5]];

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
