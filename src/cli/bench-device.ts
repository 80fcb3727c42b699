// node dist-device/bench-device.mjs [--tiny] [--shapes a,b] [--steps N] [--budget S] [--memory-mib M] [--activations f16|f32] [--no-kernels]
// The device benchmark (scripts/device-bench.sh runs it on the accelerator machine): times the LoRA training step
// of every DEVICE.md shape, each in its own short process (dawn.node may abort after long runs; a failed process
// is retried once), then the kernel benchmark, printing each result as it comes and at the end a table beside
// PyTorch + PEFT's figures. Shapes left when the time budget runs out are reported as skipped.
// Internal: --one NAME runs one shape and prints one JSON line; --kernels SET runs the kernel benchmark.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type DeviceShape, type DeviceShapeResult, describeResult, formatTable, parseShapeResult, selectShapes } from '../bench/device';
import { runKernelBench, withinTolerance } from '../bench/kernels';
import { MODEL_SHAPES } from '../bench/shapes';
import { runBench, syntheticManyShotBatch } from '../bench/train-step';
import type { ActivationDtype } from '../engine/activations';
import { describeHalfMatmul, verifyHalfMatmul } from '../engine/ops/matmul_quant_half';
import { LORA_TARGETS } from '../engine/spec';
import { GpuTooSmallError, checkPlanFits, planTraining } from '../engine/plan';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { runMain } from './run-main';

const RANK = 16;
/** A shape process is not started with less time than this left. */
const MIN_SECONDS = 15;

function nodeGpu(): Promise<Gpu> {
  return Gpu.create(installNodeWebGpu());
}

/** The answer tokens of the bench's synthetic sequence (the cross-entropy rows). */
function answerTokens(seq: number): number {
  return syntheticManyShotBatch(1, seq, 8, 0).labels[0].filter((label) => label !== -100).length;
}

/** One shape in this process: the plan checked against the adapter's limits (and memory when known), then timed steps. */
async function runOne(shape: DeviceShape, steps: number, memoryBytes: number | undefined, activations: ActivationDtype): Promise<DeviceShapeResult> {
  const gpu = await nodeGpu();
  const spec = MODEL_SHAPES[shape.shape];
  const plan = planTraining(spec, {
    batch: 1, seqLen: shape.seq, targets: answerTokens(shape.seq), recompute: shape.recompute, lora: { rank: RANK, targets: LORA_TARGETS },
    linearType: () => 'F32', limits: gpu.limits, activations,
  });
  // f16 activations multiply on tensor cores or in f16 arithmetic where that kernel passes its self-test here.
  const matmul = activations === 'f16' ? describeHalfMatmul(await verifyHalfMatmul(gpu)) : 'f32 tiles (f32 activations)';
  const adapter = `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`.trim();
  const base = { name: shape.name, plan_bytes: plan.totalBytes, adapter, matmul };
  try {
    checkPlanFits(plan, gpu.limits, memoryBytes);
  } catch (error) {
    if (!(error instanceof GpuTooSmallError)) throw error;
    return { ...base, status: 'does not fit', tokens_per_s: null, step_ms: null, peak_bytes: null, message: error.message };
  }
  const r = await runBench(gpu, { shape: shape.shape, seq: shape.seq, batch: 1, rank: RANK, steps, recompute: shape.recompute, activations, kernelTiming: false },
    (line) => console.error(`  ${shape.name}: ${line}`));
  gpu.checkErrors();
  return { ...base, status: 'ok', tokens_per_s: r.tokens_per_s, step_ms: r.step_ms, peak_bytes: r.peak_bytes };
}

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** This bundle again with `args`, stderr passed through, stdout lines handed to onLine; killed after timeoutMs. */
function runChild(args: string[], timeoutMs: number, onLine: (line: string) => void = () => {}): Promise<Child> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [process.argv[1], ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Child = { code: null, signal: null, stdout: '', stderr: '', timedOut: false };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out.stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(onLine);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out.stderr += chunk;
      process.stderr.write(chunk);
    });
    const timer = setTimeout(() => {
      out.timedOut = true;
      child.kill('SIGKILL');
    }, Math.max(1, timeoutMs));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pending) onLine(pending);
      Object.assign(out, { code, signal });
      resolve(out);
    });
  });
}

const failure = (name: string, status: 'failed' | 'skipped', message: string): DeviceShapeResult =>
  ({ name, status, tokens_per_s: null, step_ms: null, peak_bytes: null, plan_bytes: null, message });

/** A shape in its own process, retried once when the process dies without a result. */
async function runShape(shape: DeviceShape, childArgs: string[], deadline: number): Promise<DeviceShapeResult> {
  let last = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    const left = deadline - Date.now();
    if (left < MIN_SECONDS * 1000) return failure(shape.name, 'skipped', last ? `${last}; no time left to retry` : 'time budget spent');
    const child = await runChild(['--one', shape.name, ...childArgs], left);
    const result = parseShapeResult(child.stdout, shape.name);
    if (result) return { ...result, attempts: attempt };
    const tail = child.stderr.trim().split('\n').slice(-1)[0] ?? '';
    last = child.timedOut ? `stopped at the time budget after ${Math.round(left / 1000)} s` :
      `process ended (${child.signal ?? `exit ${child.code}`})${tail ? `: ${tail}` : ''}`;
    if (child.timedOut) return failure(shape.name, 'skipped', last);
    console.log(`${shape.name}: attempt ${attempt} failed, ${last}`);
  }
  return failure(shape.name, 'failed', last);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tiny: { type: 'boolean', default: false },
      shapes: { type: 'string' },
      steps: { type: 'string', default: '1' },
      budget: { type: 'string', default: '420' },
      'memory-mib': { type: 'string' },
      'no-kernels': { type: 'boolean', default: false },
      activations: { type: 'string', default: 'f16' },
      one: { type: 'string' },
      kernels: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${values.steps}`);
  const memoryBytes = values['memory-mib'] ? Number(values['memory-mib']) * 1024 ** 2 : undefined;
  const activations = values.activations;
  if (activations !== 'f16' && activations !== 'f32') throw new Error(`--activations is f16 or f32, got ${activations}`);

  if (values.one) {
    const [shape] = selectShapes(values.one, values.tiny);
    console.log(JSON.stringify(await runOne(shape, steps, memoryBytes, activations)));
    return 0;
  }
  if (values.kernels) {
    const gpu = await nodeGpu();
    const rows = await runKernelBench(gpu, { shapes: values.kernels as 'tiny' | 'device', iters: 10 }, (row) => console.log(JSON.stringify(row)));
    return rows.every(withinTolerance) ? 0 : 1;
  }

  const start = Date.now();
  const deadline = start + Number(values.budget) * 1000;
  const shapes = selectShapes(values.shapes, values.tiny);
  const childArgs = ['--steps', String(steps), '--activations', activations, ...(values.tiny ? ['--tiny'] : []), ...(values['memory-mib'] ? ['--memory-mib', values['memory-mib']] : [])];
  console.log(`device benchmark: ${shapes.length} shapes, LoRA r${RANK} on ${LORA_TARGETS.join(',')}, f32 random weights, ${activations} activations, ` +
    `${steps} timed step(s) after a warm-up, budget ${values.budget} s${memoryBytes ? `, GPU memory ${values['memory-mib']} MiB` : ''}`);
  const results: DeviceShapeResult[] = [];
  for (const shape of shapes) {
    const result = await runShape(shape, childArgs, deadline);
    results.push(result);
    console.log(`${describeResult(result)}  [${Math.round((Date.now() - start) / 1000)} s]`);
  }

  let kernelStatus = 'skipped (--no-kernels)';
  if (!values['no-kernels']) {
    const left = deadline - Date.now();
    if (left < MIN_SECONDS * 1000) kernelStatus = 'skipped (time budget spent)';
    else {
      const set = values.tiny ? 'tiny' : 'device';
      console.log(`kernel benchmark (--shapes ${set}): kernel, shape, ms, GFLOP/s or GB/s, max rel error`);
      let rows = 0;
      const child = await runChild(['--kernels', set], left, (line) => {
        if (!line.startsWith('{')) return;
        const r = JSON.parse(line) as { kernel: string; shape: string; ms: number; gflops?: number; gbps?: number; max_rel_error: number | null };
        rows++;
        const rate = r.gflops !== undefined ? `${r.gflops} GFLOP/s` : r.gbps !== undefined ? `${r.gbps} GB/s` : '';
        console.log(`  ${r.kernel} ${r.shape}: ${r.ms} ms ${rate} err ${r.max_rel_error === null ? '-' : r.max_rel_error.toExponential(1)}`);
      });
      kernelStatus = child.timedOut ? `${rows} rows, stopped at the time budget` :
        child.code === 0 ? `${rows} rows, all within tolerance` : `${rows} rows, exit ${child.code ?? child.signal}`;
    }
  }

  console.log('');
  console.log(formatTable(results, shapes));
  console.log(`kernels: ${kernelStatus}`);
  console.log(`total ${Math.round((Date.now() - start) / 1000)} s`);
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

runMain(main);
