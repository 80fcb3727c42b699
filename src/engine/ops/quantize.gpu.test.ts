import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../gpu/gpu';
import { maxRelError, testGpu } from '../../gpu/gpu.testing';
import { blockBytes, dequantize, f16BitsToF32, quantize, tensorBytes } from '../ggml';
import { mulberry32, randomArray } from '../../util/random';
import { quantMatmulForward } from './matmul_quant';
import { quantMatmulForwardRef } from './matmul_quant.reference';
import { type GpuQuantType, quantizeOnGpu, quantizedBytes } from './quantize';
import { quantizeError } from './quantize.reference';

/** Rows of random values of varying magnitude, with a zero block and a block of exact rounding ties. */
function testValues(rows: number, cols: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const x = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const scale = 0.05 * 10 ** next(); // normal (not subnormal) half-precision scales
    for (let c = 0; c < cols; c++) x[r * cols + c] = (2 * next() - 1) * scale;
  }
  x.fill(0, 32, 64);
  // Q8_0 of this block has d = 1 exactly, so x / d = k + 0.5: ties, which go away from zero.
  for (let j = 0; j < 32; j++) x[64 + j] = j === 0 ? 127 : (j - 16) + 0.5;
  return x;
}

async function gpuQuantize(gpu: Gpu, type: GpuQuantType, x: Float32Array, rows: number, cols: number): Promise<Uint8Array> {
  const source = gpu.upload('x', x);
  const out = gpu.buffer('q', quantizedBytes(type, rows, cols));
  // Stale bytes must not leak into the padding.
  gpu.write(out, new Uint8Array(quantizedBytes(type, rows, cols)).fill(0xab));
  await gpu.submit((enc) => quantizeOnGpu(gpu, enc, { source, type, out, rows, cols }));
  const bytes = new Uint8Array(await gpu.read(out, quantizedBytes(type, rows, cols)));
  gpu.destroy(source, out);
  return bytes;
}

/** The quant of value j of a block (Q8_0: int8 byte; Q4_0: nibble). */
function quantOf(type: GpuQuantType, bytes: Uint8Array, block: number, j: number): number {
  const o = block * blockBytes(type) + 2;
  if (type === 'Q8_0') return (bytes[o + j] << 24) >> 24;
  return j < 16 ? bytes[o + j] & 15 : bytes[o + j - 16] >> 4;
}

describe('quantizeOnGpu', () => {
  for (const type of ['Q8_0', 'Q4_0'] as const) {
    for (const [rows, cols] of [[33, 256], [7, 96]]) {
      it(`${type} [${rows}, ${cols}] matches the CPU encoder`, async () => {
        const gpu = await testGpu();
        const x = testValues(rows, cols, rows + cols);
        const got = await gpuQuantize(gpu, type, x, rows, cols);
        const want = quantize(type, x);
        const size = tensorBytes(type, rows * cols);
        expect([...got.subarray(size)].every((b) => b === 0), 'padding').toBe(true);
        expect(quantizeError(type, x, got.subarray(0, size)), 'decoded values but for rounding ties').toBe(0);
        const blocks = (rows * cols) / 32;
        let differing = 0;
        for (let b = 0; b < blocks; b++) {
          const o = b * blockBytes(type);
          expect(got[o] | (got[o + 1] << 8), `scale of block ${b}`).toBe(want[o] | (want[o + 1] << 8));
          const d = f16BitsToF32(want[o] | (want[o + 1] << 8));
          for (let j = 0; j < 32; j++) {
            const [q, qCpu] = [quantOf(type, got, b, j), quantOf(type, want, b, j)];
            if (q === qCpu) continue;
            // Only where x / d sits on a rounding boundary: k + 0.5 (Q8_0 rounds x / d, Q4_0 truncates x / d + 8.5).
            differing++;
            expect(Math.abs(q - qCpu)).toBe(1);
            expect(Math.abs((Math.abs(x[32 * b + j] / d) % 1) - 0.5)).toBeLessThan(1e-3);
          }
        }
        expect(differing).toBeLessThanOrEqual(blocks * 32 * 0.01);
        // The exact ties of block 2 go away from zero on both.
        if (type === 'Q8_0') {
          for (let j = 1; j < 32; j++) expect(quantOf(type, got, 2, j)).toBe(j - 16 + (j >= 16 ? 1 : 0));
        }
        // And every value lands within half a step of where it was (a whole step for Q4_0's far end).
        const values = dequantize(type, got.subarray(0, size), rows * cols);
        for (let b = 0; b < blocks; b++) {
          const d = Math.abs(f16BitsToF32(got[b * blockBytes(type)] | (got[b * blockBytes(type) + 1] << 8)));
          const bound = type === 'Q8_0' ? 0.57 * d : 1.02 * d;
          for (let j = 32 * b; j < 32 * b + 32; j++) expect(Math.abs(values[j] - x[j])).toBeLessThanOrEqual(bound + 1e-12);
        }
      });
    }

    it(`${type}: f32 -> GPU quantize -> quantMatmulForward agrees with the CPU`, async () => {
      const gpu = await testGpu();
      const [out, inF] = [96, 256];
      const w = testValues(out, inF, 17);
      const source = gpu.upload('w32', w);
      const buffer = gpu.buffer('wq', quantizedBytes(type, out, inF));
      for (const rows of [7, 70]) {
        const x = randomArray(rows * inF, rows);
        const [gx, gy] = [gpu.upload('x', x), gpu.buffer('y', rows * out * 4)];
        await gpu.submit((enc) => {
          quantizeOnGpu(gpu, enc, { source, type, out: buffer, rows: out, cols: inF });
          quantMatmulForward(gpu, enc, { x: gx, w: { kind: 'quant', type, buffer, outFeatures: out, inFeatures: inF }, y: gy, rows });
        });
        const y = await gpu.readF32(gy, rows * out);
        const bytes = new Uint8Array(await gpu.read(buffer, tensorBytes(type, out * inF)));
        gpu.destroy(gx, gy);
        const forward = (wd: Float32Array) => quantMatmulForwardRef(x, wd, new Float32Array(rows * out), rows, out, inF, 0);
        // Exactly what the GPU wrote, and (but for rounding ties) what the CPU encoder writes.
        expect(maxRelError(y, forward(dequantize(type, bytes, out * inF)))).toBeLessThan(1e-5);
        expect(maxRelError(y, forward(dequantize(type, quantize(type, w), out * inF)))).toBeLessThan(1e-3);
      }
      gpu.destroy(source, buffer);
    });
  }

  it('rejects rows that are not whole blocks, and outputs too small', async () => {
    const gpu = await testGpu();
    const buffer = gpu.buffer('b', 64);
    const encoder = gpu.device.createCommandEncoder();
    expect(() => quantizeOnGpu(gpu, encoder, { source: buffer, type: 'Q8_0', out: buffer, rows: 1, cols: 48 })).toThrow(/whole blocks of 32/);
    expect(() => quantizeOnGpu(gpu, encoder, { source: buffer, type: 'Q4_0', out: buffer, rows: 4, cols: 32 })).toThrow(/needs 72 bytes/);
    gpu.destroy(buffer);
  });
});
