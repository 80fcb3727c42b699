import { describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { KERNEL_FAMILIES, runKernelBench } from './kernels';

describe('kernel benchmark', () => {
  it('times every kernel at its tiny shapes and checks it against its CPU reference', async () => {
    const gpu = await testGpu();
    const rows = await runKernelBench(gpu, { shapes: 'tiny', iters: 1 });
    expect(new Set(rows.map((row) => row.kernel.split('.')[0]))).toEqual(new Set(KERNEL_FAMILIES));
    for (const row of rows) {
      const name = `${row.kernel} ${row.shape}`;
      expect(Number.isFinite(row.ms) && row.ms > 0, `${name}: ${row.ms} ms`).toBe(true);
      expect(row.max_rel_error, name).not.toBeNull();
      expect(row.max_rel_error!, name).toBeLessThanOrEqual(row.tolerance!);
    }
  });

  it('runs one family or one kernel of it, and refuses unknown names', async () => {
    const gpu = await testGpu();
    const rope = await runKernelBench(gpu, { shapes: 'tiny', kernel: 'rope', iters: 1 });
    expect(rope.map((row) => row.kernel)).toEqual(['rope.forward', 'rope.backward']);
    const backward = await runKernelBench(gpu, { shapes: 'tiny', kernel: 'rope.backward', iters: 2 });
    expect(backward.map((row) => row.kernel)).toEqual(['rope.backward']);
    await expect(runKernelBench(gpu, { shapes: 'tiny', kernel: 'softmax', iters: 1 })).rejects.toThrow(/unknown kernel softmax/);
    await expect(runKernelBench(gpu, { shapes: 'tiny', kernel: 'rope.sideways', iters: 1 })).rejects.toThrow(/no kernel named/);
  });
});
