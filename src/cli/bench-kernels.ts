// npm run bench:kernels -- [--shapes tiny|small|device] [--kernel NAME] [--iters N] [--json]
// Times every kernel of src/engine/ops in Node through Dawn and checks it against its CPU reference: one table
// row (or, with --json, one JSON line) per kernel and shape. Exits 1 when a check is beyond its tolerance.
import { parseArgs } from 'node:util';
import { type KernelBenchRow, SHAPE_SETS, type ShapeSet, runKernelBench, withinTolerance } from '../bench/kernels';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { halfKernel } from '../engine/ops/matmul_quant';
import { runMain } from './run-main';

const COLUMNS: [header: string, width: number, cell: (row: KernelBenchRow) => string][] = [
  ['kernel', 22, (r) => r.kernel],
  ['shape', 42, (r) => r.shape],
  ['ms', 10, (r) => String(r.ms)],
  ['GFLOP/s', 9, (r) => (r.gflops === undefined ? '' : String(r.gflops))],
  ['GB/s', 9, (r) => (r.gbps === undefined ? '' : String(r.gbps))],
  ['max rel err', 12, (r) => (r.max_rel_error === null ? '-' : r.max_rel_error.toExponential(1))],
  ['tolerance', 10, (r) => (r.tolerance === null ? '-' : r.tolerance === 0 ? '0' : r.tolerance.toExponential(0))],
  ['timer', 6, (r) => r.timer],
  ['', 0, (r) => (withinTolerance(r) ? '' : 'FAIL ') + (r.note ?? '')],
];

function line(cells: string[]): string {
  return cells.map((cell, i) => (i < 2 ? cell.padEnd(COLUMNS[i][1]) : cell.padStart(COLUMNS[i][1]))).join(' ').trimEnd();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      shapes: { type: 'string', default: 'small' },
      kernel: { type: 'string' },
      iters: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
    },
  });
  const shapes = values.shapes as ShapeSet;
  if (!SHAPE_SETS.includes(shapes)) throw new Error(`unknown --shapes ${values.shapes}; one of: ${SHAPE_SETS.join(', ')}`);
  const gpu = await Gpu.create(installNodeWebGpu());
  let first = true;
  const rows = await runKernelBench(gpu, { shapes, kernel: values.kernel, iters: Number(values.iters) }, (row) => {
    if (first && !values.json) {
      const { vendor, architecture, description } = gpu.adapter;
      console.log(`${`${vendor} ${architecture} ${description}`.trim()}: shapes ${shapes}, ms per iteration of ${values.iters} after a warm-up, ` +
        'timed by GPU timestamps (gpu) or the wall clock around submit (wall)');
      const half = halfKernel(gpu);
      console.log(`half-precision matmul_quant rows: ${half ? `${half.kind} (self-test passed)` : 'none (no kernel passed its self-test here)'}`);
      console.log(line(COLUMNS.map(([header]) => header)));
    }
    first = false;
    console.log(values.json ? JSON.stringify(row) : line(COLUMNS.map(([, , cell]) => cell(row))));
  });
  gpu.device.destroy();
  return rows.every(withinTolerance) ? 0 : 1;
}

runMain(main);
