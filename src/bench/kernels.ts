// The kernel benchmark (npm run bench:kernels), after llm.c's dev/cuda: every kernel of src/engine/ops at a
// list of shapes, warmed up, timed, its useful GFLOP/s or GB/s, and its warm-up result checked against the
// CPU reference beside its wrapper (src/engine/ops/<name>.reference.ts) with the tolerance of its test.
import type { Gpu } from '../gpu/gpu';
import { type GgmlType, dequantize, quantize, tensorBytes } from '../engine/ggml';
import { adamwStep } from '../engine/ops/adamw';
import { adamwRef } from '../engine/ops/adamw.reference';
import { type AttentionShape, attentionBackward, attentionForward } from '../engine/ops/attention';
import { attentionBackwardRef, attentionRef } from '../engine/ops/attention.reference';
import { createCrossEntropyScratch, crossEntropyBackward, crossEntropyForward } from '../engine/ops/cross_entropy';
import { crossEntropyRef } from '../engine/ops/cross_entropy.reference';
import { dequantizeRows } from '../engine/ops/dequantize';
import { dequantizeRowsRef } from '../engine/ops/dequantize.reference';
import { embeddingBackward, embeddingForward, groupRowsByToken } from '../engine/ops/embedding';
import { embeddingBackwardRef, embeddingForwardRef } from '../engine/ops/embedding.reference';
import { fillUniform } from '../engine/ops/fill';
import { fillUniformRef } from '../engine/ops/fill.reference';
import { globalGradNorm, gradNormScratchSize } from '../engine/ops/grad_norm';
import { packF16, packedF16Bytes, unpackF16 } from '../engine/ops/half';
import { f16FromBits, halfRoundTripRef } from '../engine/ops/half.reference';
import { gradNormRef } from '../engine/ops/grad_norm.reference';
import { matmul } from '../engine/ops/matmul';
import { matmulRef } from '../engine/ops/matmul.reference';
import { type QuantMatmulKernel, halfKernel, quantMatmulBackward, quantMatmulForward, quantMatmulKernel, uploadQuantWeight } from '../engine/ops/matmul_quant';
import { verifyHalfMatmul } from '../engine/ops/matmul_quant_half';
import { quantMatmulBackwardRef, quantMatmulForwardRef } from '../engine/ops/matmul_quant.reference';
import { type GpuQuantType, quantizeOnGpu, quantizedBytes } from '../engine/ops/quantize';
import { quantizeError } from '../engine/ops/quantize.reference';
import { rmsnormBackward, rmsnormForward, rmsnormWeightGrad } from '../engine/ops/rmsnorm';
import { rmsnormBackwardRef, rmsnormForwardRef, rmsnormWeightGradRef } from '../engine/ops/rmsnorm.reference';
import { ropeBackward, ropeForward } from '../engine/ops/rope';
import { ropeRef } from '../engine/ops/rope.reference';
import { swigluBackward, swigluForward } from '../engine/ops/swiglu';
import { swigluBackwardRef, swigluForwardRef } from '../engine/ops/swiglu.reference';
import { unpermuteQkRows } from '../engine/ops/unpermute_rows';
import { unpermuteQkRowsRef } from '../engine/ops/unpermute_rows.reference';
import { ropeInverseFrequencies } from '../engine/rope';
import { type VocabTable, tableRowRanges } from '../engine/vocab-table';
import { relativeError } from '../reference/run';
import { mulberry32, randomArray } from '../util/random';

/** tiny: a second on SwiftShader (the GPU test); small: the default, under a minute on SwiftShader; device: real models. */
export type ShapeSet = 'tiny' | 'small' | 'device';
export const SHAPE_SETS: readonly ShapeSet[] = ['tiny', 'small', 'device'];

export interface KernelBenchOptions {
  shapes: ShapeSet;
  /** A family (`attention`) or one of its kernels (`attention.backward`); every kernel when absent. */
  kernel?: string;
  /** Timed iterations after the warm-up. */
  iters: number;
}

export interface KernelBenchRow {
  kernel: string;
  shape: string;
  /** Milliseconds per iteration. */
  ms: number;
  gflops?: number;
  gbps?: number;
  /** max |gpu - cpu| / max |cpu| of the output furthest beyond its tolerance; null when not checked. */
  max_rel_error: number | null;
  tolerance: number | null;
  /** How ms was measured: GPU timestamp queries, or the wall clock around submit and onSubmittedWorkDone. */
  timer: 'gpu' | 'wall';
  note?: string;
}

/** False when the row's check failed. */
export function withinTolerance(row: KernelBenchRow): boolean {
  return row.max_rel_error === null || row.tolerance === null || row.max_rel_error <= row.tolerance;
}

/** Above this many inner-loop steps the CPU reference is not run (it would take more than a few seconds). */
const CHECK_LIMIT = 1e9;

interface Output {
  name: string;
  error: number;
  tolerance: number;
}

interface Prepared {
  /** Records one iteration. */
  record(encoder: GPUCommandEncoder): void;
  /** The outputs of the first iteration against the CPU reference. */
  check(): Promise<Output[]>;
  destroy(): void;
}

interface Case {
  kernel: string;
  shape: string;
  /** Useful work of one iteration: floating-point operations, or bytes read and written. */
  work: { flops: number } | { bytes: number };
  /** About how many inner-loop steps the CPU reference takes. */
  referenceOps: number;
  /** Makes the inputs; with `check`, keeps on the CPU what the check needs before the first iteration. */
  prepare(gpu: Gpu, check: boolean): Promise<Prepared>;
}

/** The GGML types of common GGUF files (Q4_K_M holds Q4_K and Q6_K); the small set keeps three (each is a pipeline to compile). */
const QUANT_TYPES: readonly GgmlType[] = ['F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
const SMALL_QUANT_TYPES: readonly GgmlType[] = ['Q8_0', 'Q4_K', 'Q6_K'];

// ---------------------------------------------------------------------------------------------------------
// Inputs

/** f32 [n] uniform in [-scale, scale), made on the GPU. */
function filled(gpu: Gpu, label: string, n: number, seed: number, scale = 1): GPUBuffer {
  const buffer = gpu.buffer(label, 4 * n);
  const encoder = gpu.device.createCommandEncoder();
  fillUniform(gpu, encoder, { buffer, count: n, seed, scale });
  gpu.device.queue.submit([encoder.finish()]);
  return buffer;
}

/** n token ids below vocab, a few of them frequent (as in a long prompt). */
function randomIds(n: number, vocab: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(next() * (next() < 0.4 ? Math.min(3, vocab) : vocab)));
}

/** Each output's error against its test's tolerance. */
function outputs(...list: [name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number][]): Output[] {
  return list.map(([name, actual, expected, tolerance]) => ({ name, error: relativeError(actual, expected), tolerance }));
}

function sizes<T>(set: ShapeSet, table: Record<ShapeSet, T[]>): T[] {
  return table[set];
}

/** A [rows, dim] f32 table in parts under the binding limit, as the engine holds the embedding and LM head. */
function filledTable(gpu: Gpu, label: string, rows: number, dim: number, seed: number): VocabTable {
  const maxBytes = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const parts = tableRowRanges(rows, dim, maxBytes).map((part, i) => ({
    ...part, buffer: filled(gpu, `${label} rows ${part.firstRow}+${part.rows}`, part.rows * dim, seed + i),
  }));
  return { rows, dim, parts };
}

/** A table's values, read back. */
async function readTable(gpu: Gpu, table: VocabTable): Promise<Float32Array> {
  const values = new Float32Array(table.rows * table.dim);
  for (const part of table.parts) values.set(await gpu.readF32(part.buffer, part.rows * table.dim), part.firstRow * table.dim);
  return values;
}

// ---------------------------------------------------------------------------------------------------------
// The kernels

function matmulCases(set: ShapeSet): Case[] {
  const shapes = sizes<[number, number, number]>(set, {
    tiny: [[67, 45, 33], [5, 130, 17]],
    small: [[128, 128, 128], [512, 16, 256], [512, 256, 16]],
    // A square product, and a LoRA adapter's two products at 4096 tokens and rank 16.
    device: [[4096, 4096, 4096], [4096, 16, 4096], [4096, 4096, 16]],
  });
  return shapes.map(([M, N, K]) => ({
    kernel: 'matmul',
    shape: `M=${M} N=${N} K=${K}`,
    work: { flops: 2 * M * N * K },
    referenceOps: M * N * K,
    async prepare(gpu) {
      const [a, b, c] = [filled(gpu, 'a', M * K, 1), filled(gpu, 'b', K * N, 2), gpu.buffer('c', 4 * M * N)];
      return {
        record: (encoder) => matmul(gpu, encoder, { a, b, c, M, N, K }),
        async check() {
          const [av, bv, got] = [await gpu.readF32(a, M * K), await gpu.readF32(b, K * N), await gpu.readF32(c, M * N)];
          return outputs(['c', got, matmulRef(av, bv, new Float32Array(M * N), M, N, K, false, false, 1, 0), 1e-5]);
        },
        destroy: () => gpu.destroy(a, b, c),
      };
    },
  }));
}

function matmulQuantCases(set: ShapeSet, gpu: Gpu): Case[] {
  const shapes = sizes<{ rows: number; inF: number; out: number; types: readonly GgmlType[] }>(set, {
    tiny: [{ rows: 7, inF: 256, out: 33, types: ['Q8_0'] }],
    small: [{ rows: 32, inF: 256, out: 128, types: SMALL_QUANT_TYPES }],
    // Llama-3-8B's gate/up projection and TinyLlama's, at 4096 tokens.
    device: [{ rows: 4096, inF: 4096, out: 14336, types: QUANT_TYPES }, { rows: 4096, inF: 2048, out: 5632, types: QUANT_TYPES }],
  });
  // Both tiles where the vec4 one applies (K % 4 == 0), and the half-precision kernel that passed its self-test
  // on this GPU, so their figures stand side by side.
  const half = halfKernel(gpu);
  const kernelsFor = (K: number): QuantMatmulKernel[] =>
    [...(quantMatmulKernel(K) === 'tiled_vec4' ? ['tiled', 'tiled_vec4'] as const : ['tiled'] as const), ...(half ? [half.kind] : [])];
  return shapes.flatMap(({ rows, inF, out, types }) =>
    types.flatMap((type) =>
      (['forward', 'backward'] as const).flatMap((product) => kernelsFor(product === 'forward' ? inF : out).map((kernel): Case => ({
        kernel: `matmul_quant.${product}`,
        shape: `${type} rows=${rows} in=${inF} out=${out} ${kernel}`,
        work: { flops: 2 * rows * inF * out },
        referenceOps: rows * inF * out,
        async prepare(gpu, check) {
          const bytes = quantize(type, randomArray(out * inF, 3, 0.05));
          const w = uploadQuantWeight(gpu, 'w', type, bytes, out, inF);
          const [K, N] = product === 'forward' ? [inF, out] : [out, inF];
          const a = filled(gpu, 'a', rows * K, 4);
          const c = gpu.buffer('c', 4 * rows * N);
          const values = check ? dequantize(type, bytes, out * inF) : null;
          return {
            record: (encoder) =>
              product === 'forward'
                ? quantMatmulForward(gpu, encoder, { x: a, w, y: c, rows, kernel })
                : quantMatmulBackward(gpu, encoder, { dy: a, w, dx: c, rows, kernel }),
            async check() {
              const [av, got] = [await gpu.readF32(a, rows * K), await gpu.readF32(c, rows * N)];
              const reference = product === 'forward' ? quantMatmulForwardRef : quantMatmulBackwardRef;
              // Half-precision kernels multiply f16 operands: matmul_quant_half.ts bounds each output's error.
              const tolerance = kernel === 'tensor' || kernel === 'f16' ? 1e-2 : 1e-5;
              return outputs([product === 'forward' ? 'y' : 'dx', got, reference(av, values!, new Float32Array(rows * N), rows, out, inF, 0), tolerance]);
            },
            destroy: () => gpu.destroy(w.buffer, a, c),
          };
        },
      }))),
    ),
  );
}

function quantizeCases(set: ShapeSet): Case[] {
  const shapes = sizes<[number, number]>(set, { tiny: [[7, 96]], small: [[128, 1024]], device: [[14336, 4096]] });
  return shapes.flatMap(([rows, cols]) =>
    (['Q8_0', 'Q4_0'] as const).map((type: GpuQuantType): Case => ({
      kernel: 'quantize',
      shape: `${type} [${rows}, ${cols}]`,
      work: { bytes: 4 * rows * cols + tensorBytes(type, rows * cols) },
      referenceOps: rows * cols,
      async prepare(gpu) {
        const source = filled(gpu, 'source', rows * cols, 5);
        const out = gpu.buffer('blocks', quantizedBytes(type, rows, cols));
        return {
          record: (encoder) => quantizeOnGpu(gpu, encoder, { source, type, out, rows, cols }),
          async check() {
            const x = await gpu.readF32(source, rows * cols);
            const got = new Uint8Array(await gpu.read(out, tensorBytes(type, rows * cols)));
            // Exact but where x / d is a rounding tie, as its test allows.
            return [{ name: 'blocks', error: quantizeError(type, x, got), tolerance: 0 }];
          },
          destroy: () => gpu.destroy(source, out),
        };
      },
    })),
  );
}

function dequantizeCases(set: ShapeSet): Case[] {
  const shapes = sizes<{ rows: number; cols: number; types: readonly GgmlType[] }>(set, {
    tiny: [{ rows: 8, cols: 256, types: ['Q4_K'] }],
    small: [{ rows: 64, cols: 2048, types: SMALL_QUANT_TYPES }],
    device: [{ rows: 14336, cols: 4096, types: QUANT_TYPES }],
  });
  return shapes.flatMap(({ rows, cols, types }) =>
    types.map((type): Case => ({
      kernel: 'dequantize',
      shape: `${type} [${rows}, ${cols}]`,
      work: { bytes: tensorBytes(type, rows * cols) + 4 * rows * cols },
      referenceOps: rows * cols,
      async prepare(gpu) {
        const bytes = quantize(type, randomArray(rows * cols, 6, 0.05));
        const encoded = gpu.upload('encoded', bytes);
        const out = gpu.buffer('out', 4 * rows * cols);
        return {
          record: (encoder) => dequantizeRows(gpu, encoder, { type, encoded, cols, firstRow: 0, rows, out }),
          async check() {
            const got = await gpu.readF32(out, rows * cols);
            return outputs(['values', got, dequantizeRowsRef(type, bytes, cols, 0, rows), 0]);
          },
          destroy: () => gpu.destroy(encoded, out),
        };
      },
    })),
  );
}

function fillCases(set: ShapeSet): Case[] {
  return sizes(set, { tiny: [1000], small: [1 << 18], device: [1 << 26] }).map((count) => ({
    kernel: 'fill',
    shape: `n=${count}`,
    work: { bytes: 4 * count },
    referenceOps: count,
    async prepare(gpu) {
      const buffer = gpu.buffer('x', 4 * count);
      const args = { buffer, count, seed: 7, scale: 0.5, offset: 2 };
      return {
        record: (encoder) => fillUniform(gpu, encoder, args),
        check: async () => outputs(['x', await gpu.readF32(buffer, count), fillUniformRef(count, 7, 0.5, 2), 1e-6]),
        destroy: () => gpu.destroy(buffer),
      };
    },
  }));
}

// Llama-3-8B with LoRA rank 16 on all seven projections has 41.9 M trainable parameters.
const LORA_8B_PARAMETERS = 41_943_040;

function gradNormCases(set: ShapeSet): Case[] {
  return sizes(set, { tiny: [5003], small: [1 << 16], device: [LORA_8B_PARAMETERS] }).map((count) => ({
    kernel: 'grad_norm',
    shape: `n=${count}`,
    work: { bytes: 4 * count },
    referenceOps: count,
    async prepare(gpu) {
      const grads = filled(gpu, 'grads', count, 8);
      const partials = gpu.buffer('partials', gradNormScratchSize(count));
      const out = gpu.buffer('out', 8);
      return {
        record: (encoder) => globalGradNorm(gpu, encoder, { grads, count, partials, out, maxNorm: 1 }),
        async check() {
          const [norm] = await gpu.readF32(out, 1);
          return outputs(['norm', [norm], [gradNormRef(await gpu.readF32(grads, count))], 1e-6]);
        },
        destroy: () => gpu.destroy(grads, partials, out),
      };
    },
  }));
}

function adamwCases(set: ShapeSet): Case[] {
  // Its test's first settings: with a smaller lr, the f32 rounding of params swamps the change checked.
  const settings = { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
  return sizes(set, { tiny: [1037], small: [1 << 18], device: [LORA_8B_PARAMETERS] }).map((count) => ({
    kernel: 'adamw',
    shape: `n=${count}`,
    // Reads parameters, gradients and both moments; writes parameters and moments.
    work: { bytes: 7 * 4 * count },
    referenceOps: count,
    async prepare(gpu, check) {
      const params = filled(gpu, 'params', count, 9);
      const grads = filled(gpu, 'grads', count, 10, 0.5);
      const [m, v] = [gpu.buffer('m', 4 * count), gpu.buffer('v', 4 * count)]; // WebGPU zeroes new buffers
      const gradScale = gpu.upload('gradScale', new Float32Array([0, 1]));
      // The kernel updates params in place: keep the start for the check.
      const p0 = check ? await gpu.readF32(params, count) : null;
      return {
        record: (encoder) => adamwStep(gpu, encoder, { ...settings, params, grads, m, v, count, step: 1, gradScale }),
        async check() {
          const state = { p: Float64Array.from(p0!), m: new Float64Array(count), v: new Float64Array(count) };
          adamwRef(state, await gpu.readF32(grads, count), 1, settings, 1);
          const got = { p: await gpu.readF32(params, count), m: await gpu.readF32(m, count), v: await gpu.readF32(v, count) };
          return outputs(
            ['m', got.m, state.m, 1e-5],
            ['v', got.v, state.v, 1e-5],
            ['params - start', got.p.map((x, i) => x - p0![i]), state.p.map((x, i) => x - p0![i]), 1e-4],
            ['params', got.p, state.p, 1e-6],
          );
        },
        destroy: () => gpu.destroy(params, grads, m, v, gradScale),
      };
    },
  }));
}

function rmsnormCases(set: ShapeSet): Case[] {
  const shapes = sizes<[number, number]>(set, { tiny: [[33, 100]], small: [[64, 1024]], device: [[4096, 4096], [4096, 2048]] });
  const eps = 1e-5;
  return shapes.flatMap(([rows, dim]) => {
    const n = rows * dim;
    const shape = `rows=${rows} dim=${dim}`;
    /** Inputs, and the forward already run (the backward kernels read its rstd). */
    const setup = async (gpu: Gpu) => {
      const b = {
        x: filled(gpu, 'x', n, 11, 2), weight: filled(gpu, 'weight', dim, 12), dy: filled(gpu, 'dy', n, 13),
        y: gpu.buffer('y', 4 * n), rstd: gpu.buffer('rstd', 4 * rows), dx: gpu.buffer('dx', 4 * n), dweight: gpu.buffer('dweight', 4 * dim),
      };
      await gpu.submit((encoder) => rmsnormForward(gpu, encoder, { ...b, rows, dim, eps }));
      const cpu = async () => {
        const [x, w, dy] = [await gpu.readF32(b.x, n), await gpu.readF32(b.weight, dim), await gpu.readF32(b.dy, n)];
        return { x, w, dy, ...rmsnormForwardRef(x, w, rows, dim, eps) };
      };
      return { b, cpu, destroy: () => gpu.destroy(...Object.values(b)) };
    };
    return [
      {
        kernel: 'rmsnorm.forward', shape, work: { bytes: 8 * n + 4 * dim + 4 * rows }, referenceOps: n,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, cpu, destroy } = await setup(gpu);
          return {
            record: (encoder) => rmsnormForward(gpu, encoder, { ...b, rows, dim, eps }),
            async check() {
              const want = await cpu();
              return outputs(['y', await gpu.readF32(b.y, n), want.y, 1e-5], ['rstd', await gpu.readF32(b.rstd, rows), want.rstd, 1e-5]);
            },
            destroy,
          };
        },
      },
      {
        kernel: 'rmsnorm.backward', shape, work: { bytes: 12 * n + 4 * dim + 4 * rows }, referenceOps: n,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, cpu, destroy } = await setup(gpu);
          return {
            record: (encoder) => rmsnormBackward(gpu, encoder, { ...b, rows, dim }),
            async check() {
              const want = await cpu();
              return outputs(['dx', await gpu.readF32(b.dx, n), rmsnormBackwardRef(want.dy, want.x, want.w, want.rstd, rows, dim), 1e-5]);
            },
            destroy,
          };
        },
      },
      {
        kernel: 'rmsnorm.weight_grad', shape, work: { bytes: 8 * n + 4 * rows + 4 * dim }, referenceOps: n,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, cpu, destroy } = await setup(gpu);
          return {
            record: (encoder) => rmsnormWeightGrad(gpu, encoder, { ...b, rows, dim }),
            async check() {
              const want = await cpu();
              return outputs(['dweight', await gpu.readF32(b.dweight, dim), rmsnormWeightGradRef(want.dy, want.x, want.rstd, rows, dim), 1e-5]);
            },
            destroy,
          };
        },
      },
    ];
  });
}

function ropeCases(set: ShapeSet): Case[] {
  const shapes = sizes(set, {
    tiny: [{ rows: 37, seqLen: 10, heads: 4, headDim: 16 }],
    small: [{ rows: 256, seqLen: 256, heads: 8, headDim: 64 }],
    // Llama-3-8B's queries at 4096 tokens.
    device: [{ rows: 4096, seqLen: 4096, heads: 32, headDim: 128 }],
  });
  return shapes.flatMap(({ rows, seqLen, heads, headDim }) =>
    (['forward', 'backward'] as const).map((direction): Case => {
      const n = rows * heads * headDim;
      return {
        kernel: `rope.${direction}`,
        shape: `rows=${rows} heads=${heads} headDim=${headDim}`,
        work: { bytes: 8 * n + 2 * headDim },
        referenceOps: n,
        async prepare(gpu, check) {
          const invFreqValues = ropeInverseFrequencies(headDim, 500000, null);
          const [x, invFreq] = [filled(gpu, 'x', n, 14), gpu.upload('invFreq', invFreqValues)];
          // Rotated in place: keep the start for the check.
          const x0 = check ? await gpu.readF32(x, n) : null;
          const args = { x, invFreq, rows, seqLen, heads, headDim };
          return {
            record: (encoder) => (direction === 'forward' ? ropeForward : ropeBackward)(gpu, encoder, args),
            async check() {
              const want = ropeRef(x0!, invFreqValues, rows, seqLen, heads, headDim, direction === 'forward' ? 1 : -1);
              return outputs(['x', await gpu.readF32(x, n), want, 2e-6]);
            },
            destroy: () => gpu.destroy(x, invFreq),
          };
        },
      };
    }),
  );
}

function swigluCases(set: ShapeSet): Case[] {
  // Llama-3-8B's MLP at 4096 tokens: 4096 x 14336.
  return sizes(set, { tiny: [1000], small: [1 << 18], device: [4096 * 14336] }).flatMap((count) => {
    const setup = (gpu: Gpu) => {
      const b = {
        gate: filled(gpu, 'gate', count, 15, 6), up: filled(gpu, 'up', count, 16, 2), dOut: filled(gpu, 'dOut', count, 17),
        out: gpu.buffer('out', 4 * count),
      };
      const read = async (name: keyof typeof b) => gpu.readF32(b[name], count);
      return { b, read, destroy: () => gpu.destroy(...Object.values(b)) };
    };
    return [
      {
        kernel: 'swiglu.forward', shape: `n=${count}`, work: { bytes: 12 * count }, referenceOps: count,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, read, destroy } = setup(gpu);
          return {
            record: (encoder) => swigluForward(gpu, encoder, { ...b, count }),
            check: async () => outputs(['out', await read('out'), swigluForwardRef(await read('gate'), await read('up')), 1e-5]),
            destroy,
          };
        },
      },
      {
        // In place: gate and up become dGate and dUp, so the check keeps the inputs of the first iteration.
        kernel: 'swiglu.backward', shape: `n=${count}`, work: { bytes: 20 * count }, referenceOps: count,
        async prepare(gpu: Gpu, check: boolean): Promise<Prepared> {
          const { b, read, destroy } = setup(gpu);
          const inputs = check ? { dOut: await read('dOut'), gate: await read('gate'), up: await read('up') } : null;
          return {
            record: (encoder) => swigluBackward(gpu, encoder, { ...b, count }),
            async check() {
              const want = swigluBackwardRef(inputs!.dOut, inputs!.gate, inputs!.up);
              return outputs(['dGate', await read('gate'), want.dGate, 1e-5], ['dUp', await read('up'), want.dUp, 1e-5]);
            },
            destroy,
          };
        },
      },
    ];
  });
}

function halfCases(set: ShapeSet): Case[] {
  // A [4096, 4096] residual stream: one layer input of Llama-3-8B at 4096 tokens.
  return sizes(set, { tiny: [1001], small: [1 << 18], device: [4096 * 4096] }).flatMap((count) => {
    const setup = (gpu: Gpu) => {
      const x = filled(gpu, 'x', count, 19, 40);
      const packed = gpu.buffer('packed', packedF16Bytes(count));
      return { x, packed, destroy: () => gpu.destroy(x, packed) };
    };
    return [
      {
        // Rounds x in place: every iteration after the first packs values that are already f16.
        kernel: 'half.pack', shape: `n=${count}`, work: { bytes: 10 * count }, referenceOps: count,
        async prepare(gpu: Gpu, check: boolean): Promise<Prepared> {
          const { x, packed, destroy } = setup(gpu);
          const original = check ? await gpu.readF32(x, count) : null;
          return {
            record: (encoder) => packF16(gpu, encoder, { x, packed, count }),
            check: async () => outputs(['x', await gpu.readF32(x, count), halfRoundTripRef(original!), 1e-3]),
            destroy,
          };
        },
      },
      {
        kernel: 'half.unpack', shape: `n=${count}`, work: { bytes: 6 * count }, referenceOps: count,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { x, packed, destroy } = setup(gpu);
          await gpu.submit((encoder) => packF16(gpu, encoder, { x, packed, count }));
          const out = gpu.buffer('out', 4 * count);
          return {
            record: (encoder) => unpackF16(gpu, encoder, { x: out, packed, count }),
            async check() {
              const words = new Uint32Array(await gpu.read(packed, packedF16Bytes(count)));
              const want = Float32Array.from({ length: count }, (_, i) => f16FromBits(i % 2 === 0 ? words[i >> 1] & 0xffff : words[i >> 1] >>> 16));
              return outputs(['x', await gpu.readF32(out, count), want, 0]);
            },
            destroy: () => {
              destroy();
              gpu.destroy(out);
            },
          };
        },
      },
    ];
  });
}

function embeddingCases(set: ShapeSet): Case[] {
  const shapes = sizes(set, {
    tiny: [{ rows: 33, vocab: 40, dim: 100 }],
    small: [{ rows: 512, vocab: 4096, dim: 256 }],
    // TinyLlama at 4096 tokens (the full-parameter gradient needs the table in one buffer).
    device: [{ rows: 4096, vocab: 32000, dim: 2048 }],
  });
  return shapes.flatMap(({ rows, vocab, dim }) => {
    const shape = `rows=${rows} vocab=${vocab} dim=${dim}`;
    const ids = randomIds(rows, vocab, 18);
    return [
      {
        kernel: 'embedding.forward', shape, work: { bytes: 8 * rows * dim + 4 * rows }, referenceOps: rows * dim,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const table = filledTable(gpu, 'table', vocab, dim, 19);
          const [gIds, out] = [gpu.upload('ids', ids), gpu.buffer('out', 4 * rows * dim)];
          return {
            record: (encoder) => embeddingForward(gpu, encoder, { ids: gIds, table, out, rows }),
            async check() {
              const want = embeddingForwardRef(ids, await readTable(gpu, table), vocab, dim);
              return outputs(['out', await gpu.readF32(out, rows * dim), want, 0]);
            },
            destroy: () => gpu.destroy(gIds, out, ...table.parts.map((part) => part.buffer)),
          };
        },
      },
      {
        kernel: 'embedding.backward', shape,
        // dOut, and the rows of the tokens present read and written.
        work: { bytes: 4 * rows * dim + 8 * new Set(ids).size * dim }, referenceOps: rows * dim,
        async prepare(gpu: Gpu, check: boolean): Promise<Prepared> {
          const [dOut, dTable] = [filled(gpu, 'dOut', rows * dim, 20), filled(gpu, 'dTable', vocab * dim, 21)];
          const groups = groupRowsByToken(gpu, ids);
          // Accumulated in place: keep the start for the check.
          const dTable0 = check ? await gpu.readF32(dTable, vocab * dim) : null;
          return {
            record: (encoder) => embeddingBackward(gpu, encoder, { dOut, groups, dTable, dim }),
            async check() {
              const want = embeddingBackwardRef(ids, await gpu.readF32(dOut, rows * dim), dTable0!, dim);
              return outputs(['dTable', await gpu.readF32(dTable, vocab * dim), want, 1e-6]);
            },
            destroy: () => {
              gpu.destroy(dOut, dTable);
              groups.destroy();
            },
          };
        },
      },
    ];
  });
}

function crossEntropyCases(set: ShapeSet): Case[] {
  const shapes = sizes(set, {
    tiny: [{ rows: 40, dim: 24, vocab: 300, targets: 13 }],
    small: [{ rows: 128, dim: 64, vocab: 512, targets: 32 }],
    // Llama-3-8B at 4096 tokens of which 1024 are answer tokens.
    device: [{ rows: 4096, dim: 4096, vocab: 128256, targets: 1024 }],
  });
  return shapes.flatMap(({ rows, dim, vocab, targets }) => {
    const shape = `rows=${rows} targets=${targets} dim=${dim} vocab=${vocab}`;
    const next = mulberry32(22);
    const targetRows = Uint32Array.from({ length: targets }, (_, p) => Math.floor((p * rows) / targets));
    const targetLabels = Uint32Array.from({ length: targets }, () => Math.floor(next() * vocab));
    const targetWeights = Float32Array.from({ length: targets }, () => 0.1 + next());
    const referenceOps = 3 * targets * vocab * dim;
    /** The buffers, with the forward already run (the backward reads its statistics). */
    const setup = async (gpu: Gpu) => {
      const hidden = filled(gpu, 'hidden', rows * dim, 23);
      const weight = filledTable(gpu, 'lm head', vocab, dim, 24);
      const b = {
        hidden, weight, targetRows: gpu.upload('targetRows', targetRows), targetLabels: gpu.upload('targetLabels', targetLabels),
        targetWeights: gpu.upload('targetWeights', targetWeights), tokenLoss: gpu.buffer('tokenLoss', 4 * targets),
        dHidden: gpu.buffer('dHidden', 4 * rows * dim), targets, dim, vocab, scratch: createCrossEntropyScratch(gpu, targets, dim, vocab),
      };
      await gpu.submit((encoder) => crossEntropyForward(gpu, encoder, b));
      const reference = async () => {
        const hiddenValues = await gpu.readF32(hidden, rows * dim);
        return crossEntropyRef({ rows, dim, vocab, hidden: hiddenValues, weight: await readTable(gpu, weight), targetRows, targetLabels, targetWeights });
      };
      const destroy = () => {
        b.scratch.destroy();
        gpu.destroy(hidden, b.targetRows, b.targetLabels, b.targetWeights, b.tokenLoss, b.dHidden, ...weight.parts.map((part) => part.buffer));
      };
      return { b, reference, destroy };
    };
    return [
      {
        kernel: 'cross_entropy.forward', shape, work: { flops: 2 * targets * vocab * dim }, referenceOps,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, reference, destroy } = await setup(gpu);
          return {
            record: (encoder) => crossEntropyForward(gpu, encoder, b),
            check: async () => outputs(['loss', await gpu.readF32(b.tokenLoss, targets), (await reference()).loss, 1e-5]),
            destroy,
          };
        },
      },
      {
        // The logits again, then dlogits times the LM head.
        kernel: 'cross_entropy.backward', shape, work: { flops: 4 * targets * vocab * dim }, referenceOps,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, reference, destroy } = await setup(gpu);
          return {
            record: (encoder) => crossEntropyBackward(gpu, encoder, b),
            check: async () => outputs(['dHidden', await gpu.readF32(b.dHidden, rows * dim), (await reference()).dHidden, 1e-5]),
            destroy,
          };
        },
      },
    ];
  });
}

function attentionCases(set: ShapeSet): Case[] {
  const shapes: AttentionShape[] = sizes(set, {
    tiny: [{ batch: 1, seqLen: 37, heads: 4, kvHeads: 2, headDim: 16, window: 0 }],
    small: [{ batch: 1, seqLen: 64, heads: 4, kvHeads: 2, headDim: 64, window: 0 }],
    // Llama-3-8B and TinyLlama at 4096 tokens.
    device: [
      { batch: 1, seqLen: 4096, heads: 32, kvHeads: 8, headDim: 128, window: 0 },
      { batch: 1, seqLen: 4096, heads: 32, kvHeads: 4, headDim: 64, window: 0 },
    ],
  });
  return shapes.flatMap((s) => {
    const { batch, seqLen: T, heads: H, kvHeads: Hkv, headDim: D } = s;
    const N = batch * T;
    // (query, key) pairs that causality and the window leave.
    let pairs = 0;
    for (let t = 0; t < T; t++) pairs += s.window === 0 ? t + 1 : Math.min(t + 1, s.window);
    pairs *= batch * H;
    const shape = `B=${batch} T=${T} heads=${H}/${Hkv} headDim=${D}` + (s.window ? ` window=${s.window}` : '');
    /** The buffers, with the forward already run (the backward reads out and lse). */
    const setup = async (gpu: Gpu) => {
      const b = {
        q: filled(gpu, 'q', N * H * D, 25, 2), k: filled(gpu, 'k', N * Hkv * D, 26, 2), v: filled(gpu, 'v', N * Hkv * D, 27),
        dOut: filled(gpu, 'dOut', N * H * D, 28), mask: gpu.upload('mask', new Uint32Array(N).fill(1)),
        out: gpu.buffer('out', 4 * N * H * D), lse: gpu.buffer('lse', 4 * N * H), delta: gpu.buffer('delta', 4 * N * H),
        dq: gpu.buffer('dq', 4 * N * H * D), dk: gpu.buffer('dk', 4 * N * Hkv * D), dv: gpu.buffer('dv', 4 * N * Hkv * D),
      };
      await gpu.submit((encoder) => attentionForward(gpu, encoder, { ...s, ...b }));
      const read = (name: keyof typeof b) => gpu.readF32(b[name]);
      const inputs = async () => ({ q: await read('q'), k: await read('k'), v: await read('v'), dOut: await read('dOut'), mask: new Uint32Array(N).fill(1) });
      return { b, read, inputs, destroy: () => gpu.destroy(...Object.values(b)) };
    };
    return [
      {
        kernel: 'attention.forward', shape, work: { flops: 4 * pairs * D }, referenceOps: 2 * pairs * D,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, read, inputs, destroy } = await setup(gpu);
          return {
            record: (encoder) => attentionForward(gpu, encoder, { ...s, ...b }),
            async check() {
              const want = attentionRef(s, await inputs());
              return outputs(['out', await read('out'), want.out, 1e-5], ['lse', await read('lse'), want.lse, 1e-5]);
            },
            destroy,
          };
        },
      },
      {
        // Flash attention's count: the backward does 2.5 times the forward's matmul work.
        kernel: 'attention.backward', shape, work: { flops: 10 * pairs * D }, referenceOps: 5 * pairs * D,
        async prepare(gpu: Gpu): Promise<Prepared> {
          const { b, read, inputs, destroy } = await setup(gpu);
          return {
            record: (encoder) => attentionBackward(gpu, encoder, { ...s, ...b }),
            async check() {
              const want = attentionBackwardRef(s, await inputs());
              return outputs(
                ['delta', await read('delta'), want.delta, 1e-5],
                ['dq', await read('dq'), want.dq, 1e-4],
                ['dk', await read('dk'), want.dk, 1e-4],
                ['dv', await read('dv'), want.dv, 1e-4],
              );
            },
            destroy,
          };
        },
      },
    ];
  });
}

function unpermuteRowsCases(set: ShapeSet): Case[] {
  const shapes = sizes(set, {
    tiny: [{ rows: 12, heads: 3, rowBytes: 34 }],
    // q_proj in Q4_K (144 bytes per 256 values): of a 1024-wide model, and of Llama-3-8B.
    small: [{ rows: 1024, heads: 16, rowBytes: 576 }],
    device: [{ rows: 4096, heads: 32, rowBytes: 2304 }],
  });
  return shapes.map(({ rows, heads, rowBytes }) => ({
    kernel: 'unpermute_rows',
    shape: `rows=${rows} heads=${heads} rowBytes=${rowBytes}`,
    work: { bytes: 2 * rows * rowBytes },
    referenceOps: rows * rowBytes,
    async prepare(gpu) {
      const next = mulberry32(29);
      const bytes = Uint8Array.from({ length: rows * rowBytes }, () => Math.floor(next() * 256));
      const [source, out] = [gpu.upload('source', bytes), gpu.buffer('out', bytes.length)];
      return {
        record: (encoder) => unpermuteQkRows(gpu, encoder, { source, out, rows, rowBytes, heads }),
        async check() {
          const got = new Uint8Array(await gpu.read(out, bytes.length));
          return outputs(['rows', got, unpermuteQkRowsRef(bytes, rows, heads), 0]);
        },
        destroy: () => gpu.destroy(source, out),
      };
    },
  }));
}

/** Each kernel family's cases; the GPU decides which kernel paths exist (the tensor cores, once verified). */
const FAMILIES: Record<string, (set: ShapeSet, gpu: Gpu) => Case[]> = {
  matmul: matmulCases,
  matmul_quant: matmulQuantCases,
  attention: attentionCases,
  cross_entropy: crossEntropyCases,
  rmsnorm: rmsnormCases,
  rope: ropeCases,
  swiglu: swigluCases,
  half: halfCases,
  embedding: embeddingCases,
  adamw: adamwCases,
  grad_norm: gradNormCases,
  fill: fillCases,
  quantize: quantizeCases,
  dequantize: dequantizeCases,
  unpermute_rows: unpermuteRowsCases,
};

export const KERNEL_FAMILIES: readonly string[] = Object.keys(FAMILIES);

// ---------------------------------------------------------------------------------------------------------
// Timing

/** Milliseconds per iteration of `iters` iterations recorded in one command buffer. */
async function time(gpu: Gpu, prepared: Prepared, iters: number): Promise<{ ms: number; timer: 'gpu' | 'wall' }> {
  if (gpu.startTiming()) {
    await gpu.submit((encoder) => {
      for (let i = 0; i < iters; i++) prepared.record(encoder);
    });
    let total = 0;
    for (const { ms } of Object.values(await gpu.stopTiming())) total += ms;
    // Coarse timestamps (browsers round them) can read 0 for short kernels: then the wall clock decides.
    if (total > 0) return { ms: total / iters, timer: 'gpu' };
  }
  const encoder = gpu.device.createCommandEncoder();
  for (let i = 0; i < iters; i++) prepared.record(encoder);
  const commands = encoder.finish();
  const start = performance.now();
  gpu.device.queue.submit([commands]);
  await gpu.device.queue.onSubmittedWorkDone();
  const ms = (performance.now() - start) / iters;
  gpu.checkErrors();
  return { ms, timer: 'wall' };
}

const round = (x: number) => Number(x.toPrecision(4));

/** Runs every selected kernel at every shape of the set; onRow hears of each row as it is done. */
export async function runKernelBench(gpu: Gpu, options: KernelBenchOptions, onRow: (row: KernelBenchRow) => void = () => {}): Promise<KernelBenchRow[]> {
  const { kernel } = options;
  const family = kernel?.split('.')[0];
  if (family !== undefined && !FAMILIES[family]) throw new Error(`unknown kernel ${kernel}; one of: ${KERNEL_FAMILIES.join(', ')}`);
  if (!Number.isInteger(options.iters) || options.iters < 1) throw new Error(`iterations must be a positive integer, got ${options.iters}`);
  await verifyHalfMatmul(gpu);
  const cases = (family ? FAMILIES[family](options.shapes, gpu) : Object.values(FAMILIES).flatMap((f) => f(options.shapes, gpu)))
    .filter((c) => kernel === undefined || c.kernel === kernel || c.kernel.startsWith(`${kernel}.`));
  if (cases.length === 0) throw new Error(`no kernel named ${kernel}`);
  const rows: KernelBenchRow[] = [];
  for (const c of cases) {
    const check = c.referenceOps <= CHECK_LIMIT;
    const prepared = await c.prepare(gpu, check);
    try {
      // The warm-up compiles the pipelines; its outputs are the ones checked.
      await gpu.submit((encoder) => prepared.record(encoder));
      const checked = check ? await prepared.check() : [];
      const { ms, timer } = await time(gpu, prepared, options.iters);
      const ratio = (o: Output) => (o.error === 0 ? 0 : o.error / o.tolerance);
      const worst = checked.reduce<Output | null>((w, o) => (w === null || ratio(o) > ratio(w) ? o : w), null);
      const row: KernelBenchRow = {
        kernel: c.kernel,
        shape: c.shape,
        ms: round(ms),
        ...('flops' in c.work ? { gflops: round(c.work.flops / ms / 1e6) } : { gbps: round(c.work.bytes / ms / 1e6) }),
        max_rel_error: worst && Number(worst.error.toPrecision(3)),
        tolerance: worst && worst.tolerance,
        timer,
      };
      if (!check) row.note = 'not checked: the CPU reference would take too long at this shape';
      else if (worst && worst.error > worst.tolerance) row.note = `${worst.name}: error ${worst.error.toPrecision(3)} > ${worst.tolerance}`;
      rows.push(row);
      onRow(row);
    } finally {
      prepared.destroy();
    }
  }
  return rows;
}
