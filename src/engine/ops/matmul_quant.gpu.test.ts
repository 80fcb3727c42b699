import { describe, expect, it } from 'vitest';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { GGML_TYPES, type GgmlType, dequantize, f32ToF16Bits, quantize } from '../ggml';
import { mulberry32, randomArray } from '../../util/random';
import { baseBackward, baseForward } from '../linear';
import { type QuantMatmulKernel, type QuantWeight, quantMatmulBackward, quantMatmulForward, quantMatmulKernel, uploadQuantWeight } from './matmul_quant';
import { quantMatmulBackwardRef, quantMatmulForwardRef } from './matmul_quant.reference';

/** Weights whose magnitude changes from row to row, as the CPU encoder writes them, and their exact values. */
function testWeight(type: GgmlType, out: number, inF: number, seed: number): { bytes: Uint8Array; values: Float32Array } {
  const next = mulberry32(seed);
  const w = new Float32Array(out * inF);
  for (let o = 0; o < out; o++) {
    const scale = 0.02 * 10 ** (2 * next() - 1);
    for (let i = 0; i < inF; i++) w[o * inF + i] = (2 * next() - 1) * scale;
  }
  const bytes = quantize(type, w);
  return { bytes, values: dequantize(type, bytes, out * inF) };
}

const SHAPES: [number, number][] = [[256, 96], [512, 33]]; // [in, out]

describe('quantMatmulForward / quantMatmulBackward against dequantize() and an f64 matmul', () => {
  for (const type of GGML_TYPES) {
    for (const rows of [1, 7, 70]) {
      for (const product of ['forward', 'backward'] as const) {
        it(`${type} rows=${rows} ${product}`, async () => {
          const gpu = await testGpu();
          for (const [inF, out] of SHAPES) {
            const { bytes, values } = testWeight(type, out, inF, inF + out);
            const w = uploadQuantWeight(gpu, 'w', type, bytes, out, inF);
            const [K, N] = product === 'forward' ? [inF, out] : [out, inF];
            const a = randomArray(rows * K, rows + K);
            for (const beta of [0, 1]) {
              const c0 = randomArray(rows * N, 7 + N);
              const ga = gpu.upload('a', a);
              const gc = gpu.upload('c', c0);
              await gpu.submit((enc) =>
                product === 'forward'
                  ? quantMatmulForward(gpu, enc, { x: ga, w, y: gc, rows, beta })
                  : quantMatmulBackward(gpu, enc, { dy: ga, w, dx: gc, rows, beta }),
              );
              const got = await gpu.readF32(gc, rows * N);
              gpu.destroy(ga, gc);
              const reference = product === 'forward' ? quantMatmulForwardRef : quantMatmulBackwardRef;
              const want = reference(a, values, c0, rows, out, inF, beta);
              expect(maxRelError(got, want), `in=${inF} out=${out} beta=${beta}`).toBeLessThan(1e-5);
            }
            gpu.destroy(w.buffer);
          }
        });
      }
    }
  }
});

describe('both kernels (scalar tiles, and vec4 loads with 4 adjacent columns per thread) on off-tile sizes', () => {
  // [in, out] = [256, 100]: 100 columns (forward) are 1 tile and 36, K = 100 (backward) is 3 steps of 32 and 4.
  const [inF, out] = [256, 100];
  it('the vec4 kernel is the default where K % 4 == 0', () => {
    expect(quantMatmulKernel(256)).toBe('tiled_vec4');
    expect(quantMatmulKernel(100)).toBe('tiled_vec4');
    expect(quantMatmulKernel(33)).toBe('tiled');
  });
  for (const type of ['Q8_0', 'Q4_K'] as const) {
    for (const kernel of ['tiled', 'tiled_vec4'] as QuantMatmulKernel[]) {
      it(`${type} ${kernel}: forward and backward, rows 5 and 83`, async () => {
        const gpu = await testGpu();
        const { bytes, values } = testWeight(type, out, inF, 21);
        const w = uploadQuantWeight(gpu, 'w', type, bytes, out, inF);
        try {
          for (const rows of [5, 83]) {
            for (const product of ['forward', 'backward'] as const) {
              const [K, N] = product === 'forward' ? [inF, out] : [out, inF];
              const a = randomArray(rows * K, rows + K);
              const c0 = randomArray(rows * N, 3 + N);
              const [ga, gc] = [gpu.upload('a', a), gpu.upload('c', c0)];
              await gpu.submit((enc) =>
                product === 'forward'
                  ? quantMatmulForward(gpu, enc, { x: ga, w, y: gc, rows, beta: 1, kernel })
                  : quantMatmulBackward(gpu, enc, { dy: ga, w, dx: gc, rows, beta: 1, kernel }),
              );
              const got = await gpu.readF32(gc, rows * N);
              gpu.destroy(ga, gc);
              const reference = product === 'forward' ? quantMatmulForwardRef : quantMatmulBackwardRef;
              expect(maxRelError(got, reference(a, values, c0, rows, out, inF, 1)), `rows=${rows} ${product}`).toBeLessThan(1e-5);
            }
          }
        } finally {
          gpu.destroy(w.buffer);
        }
      });
    }
  }

  it('refuses the vec4 kernel when K % 4 != 0', async () => {
    const gpu = await testGpu();
    const { bytes } = testWeight('Q8_0', 33, 32, 3);
    const w = uploadQuantWeight(gpu, 'w', 'Q8_0', bytes, 33, 32);
    const [dy, dx] = [gpu.buffer('dy', 4 * 33), gpu.buffer('dx', 4 * 32)];
    const enc = gpu.device.createCommandEncoder();
    expect(() => quantMatmulBackward(gpu, enc, { dy, w, dx, rows: 1, kernel: 'tiled_vec4' })).toThrow(/vec4 kernel needs K % 4 == 0, K is 33/);
    gpu.destroy(dy, dx, w.buffer);
  });
});

describe('a row range of W and a column window of y (the vocabulary chunks of a quantized LM head)', () => {
  for (const type of ['Q8_0', 'Q6_K'] as const) {
    it(`${type}: rows [19, 19 + 45) of a [96, 256] weight, forward into columns 7.. of [rows, 60], and backward`, async () => {
      const gpu = await testGpu();
      const [out, inF, first, width, rows, ldy, yOffset] = [96, 256, 19, 45, 20, 60, 7];
      const { bytes, values } = testWeight(type, out, inF, 11);
      const w = uploadQuantWeight(gpu, 'w', type, bytes, out, inF);
      const sub = values.subarray(first * inF, (first + width) * inF);
      const x = randomArray(rows * inF, 12);
      const y0 = randomArray(rows * ldy, 13);
      const [gx, gy] = [gpu.upload('x', x), gpu.upload('y', y0)];
      await gpu.submit((enc) => quantMatmulForward(gpu, enc, { x: gx, w, wRows: { firstRow: first, rows: width }, y: gy, rows, ldy, yOffset, beta: 1 }));
      const y = await gpu.readF32(gy, rows * ldy);
      // The window holds y0 + x sub^T; every other element is untouched.
      const window = new Float32Array(rows * width);
      const c0 = new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < ldy; c++) {
          const i = r * ldy + c;
          if (c >= yOffset && c < yOffset + width) [window[r * width + c - yOffset], c0[r * width + c - yOffset]] = [y[i], y0[i]];
          else expect(y[i]).toBe(y0[i]);
        }
      }
      expect(maxRelError(window, quantMatmulForwardRef(x, sub, c0, rows, width, inF, 1))).toBeLessThan(1e-5);

      const dy = randomArray(rows * width, 14);
      const dx0 = randomArray(rows * inF, 15);
      const [gdy, gdx] = [gpu.upload('dy', dy), gpu.upload('dx', dx0)];
      await gpu.submit((enc) => quantMatmulBackward(gpu, enc, { dy: gdy, w, wRows: { firstRow: first, rows: width }, dx: gdx, rows, beta: 1 }));
      const dx = await gpu.readF32(gdx, rows * inF);
      gpu.destroy(gx, gy, gdy, gdx, w.buffer);
      expect(maxRelError(dx, quantMatmulBackwardRef(dy, sub, dx0, rows, width, inF, 1))).toBeLessThan(1e-5);
    });
  }

  it('refuses rows outside W and a stride narrower than the output', async () => {
    const gpu = await testGpu();
    const { bytes } = testWeight('Q8_0', 8, 32, 3);
    const w = uploadQuantWeight(gpu, 'w', 'Q8_0', bytes, 8, 32);
    const [x, y] = [gpu.buffer('x', 4 * 32), gpu.buffer('y', 4 * 8)];
    const enc = gpu.device.createCommandEncoder();
    expect(() => quantMatmulForward(gpu, enc, { x, w, wRows: { firstRow: 5, rows: 4 }, y, rows: 1 })).toThrow(/rows \[5, 9\) are not rows of the \[8, 32\] weight/);
    expect(() => quantMatmulForward(gpu, enc, { x, w, y, rows: 1, ldy: 7 })).toThrow(/row stride 7 is less than the 8 columns/);
    gpu.destroy(x, y, w.buffer);
  });
});

describe('dequantization on the GPU is exact', () => {
  // With dy = the identity, dx = W: every value the kernel decodes, compared one by one with dequantize().
  for (const type of GGML_TYPES) {
    it(`${type}: backward with dy = I reproduces dequantize()`, async () => {
      const gpu = await testGpu();
      const [out, inF] = [33, 256];
      const { bytes, values } = testWeight(type, out, inF, 5);
      if (type === 'F16') {
        // Subnormal halves (down to 2^-24) must survive too.
        const view = new DataView(bytes.buffer);
        for (let i = 0; i < 16; i++) view.setUint16(2 * (i * 37), f32ToF16Bits(i * 2 ** -24), true);
        values.set(dequantize(type, bytes, out * inF));
      }
      const w = uploadQuantWeight(gpu, 'w', type, bytes, out, inF);
      const identity = new Float32Array(out * out);
      for (let i = 0; i < out; i++) identity[i * out + i] = 1;
      const dy = gpu.upload('dy', identity);
      const dx = gpu.buffer('dx', out * inF * 4);
      await gpu.submit((enc) => quantMatmulBackward(gpu, enc, { dy, w, dx, rows: out }));
      const got = await gpu.readF32(dx, out * inF);
      gpu.destroy(dy, dx, w.buffer);
      let mismatches = 0;
      for (let i = 0; i < values.length; i++) if (got[i] !== values[i]) mismatches++;
      expect(mismatches).toBe(0);
    });
  }
});

describe('the engine seam', () => {
  it('baseForward / baseBackward route a QuantWeight to the quantized products', async () => {
    const gpu = await testGpu();
    const [out, inF, rows] = [33, 256, 7];
    const { bytes, values } = testWeight('Q8_0', out, inF, 4);
    const w = uploadQuantWeight(gpu, 'w', 'Q8_0', bytes, out, inF);
    const x = randomArray(rows * inF, 1);
    const dy = randomArray(rows * out, 2);
    const dx0 = randomArray(rows * inF, 3);
    const [gx, gdy, gy, gdx] = [gpu.upload('x', x), gpu.upload('dy', dy), gpu.buffer('y', rows * out * 4), gpu.upload('dx', dx0)];
    await gpu.submit((enc) => {
      baseForward(gpu, enc, w, gx, gy, rows);
      baseBackward(gpu, enc, w, gdy, gdx, rows, 1);
    });
    const y = await gpu.readF32(gy, rows * out);
    const dx = await gpu.readF32(gdx, rows * inF);
    gpu.destroy(gx, gdy, gy, gdx, w.buffer);
    expect(maxRelError(y, quantMatmulForwardRef(x, values, new Float32Array(rows * out), rows, out, inF, 0))).toBeLessThan(1e-5);
    expect(maxRelError(dx, quantMatmulBackwardRef(dy, values, dx0, rows, out, inF, 1))).toBeLessThan(1e-5);
  });
});

describe('odd shapes and errors', () => {
  it('float types take any row length (F16 [19, 45], both products)', async () => {
    const gpu = await testGpu();
    const [out, inF, rows] = [19, 45, 20];
    const { bytes, values } = testWeight('F16', out, inF, 9);
    const w = uploadQuantWeight(gpu, 'w', 'F16', bytes, out, inF);
    const x = randomArray(rows * inF, 1);
    const dy = randomArray(rows * out, 2);
    const [gx, gdy, gy, gdx] = [gpu.upload('x', x), gpu.upload('dy', dy), gpu.buffer('y', rows * out * 4), gpu.buffer('dx', rows * inF * 4)];
    await gpu.submit((enc) => {
      quantMatmulForward(gpu, enc, { x: gx, w, y: gy, rows });
      quantMatmulBackward(gpu, enc, { dy: gdy, w, dx: gdx, rows });
    });
    const y = await gpu.readF32(gy, rows * out);
    const dx = await gpu.readF32(gdx, rows * inF);
    gpu.destroy(gx, gdy, gy, gdx, w.buffer);
    expect(maxRelError(y, quantMatmulForwardRef(x, values, new Float32Array(rows * out), rows, out, inF, 0))).toBeLessThan(1e-5);
    expect(maxRelError(dx, quantMatmulBackwardRef(dy, values, new Float32Array(rows * inF), rows, out, inF, 0))).toBeLessThan(1e-5);
  });

  it('rejects rows that are not whole blocks, and buffers too small', async () => {
    const gpu = await testGpu();
    const buffer = gpu.buffer('w', 4096);
    const x = gpu.buffer('x', 4096);
    const bad: QuantWeight = { kind: 'quant', type: 'Q4_K', buffer, outFeatures: 2, inFeatures: 128 };
    const small: QuantWeight = { kind: 'quant', type: 'Q8_0', buffer, outFeatures: 128, inFeatures: 32 };
    const encoder = gpu.device.createCommandEncoder();
    expect(() => quantMatmulForward(gpu, encoder, { x, w: bad, y: x, rows: 1 })).toThrow(/whole blocks of 256.*128 is not a multiple/);
    expect(() => quantMatmulBackward(gpu, encoder, { dy: x, w: small, dx: x, rows: 1 })).toThrow(/needs 4352 bytes/);
    gpu.destroy(buffer, x);
  });
});
