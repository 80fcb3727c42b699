import type { Gpu } from '../../gpu/gpu';
import { GGML_TYPE_ID, type GgmlType, blockBytes, blockSize, tensorBytes } from '../ggml';
import ggmlBlocks from '../../../kernels/ggml_blocks.wgsl?raw';
import kernelInterface from '../../../kernels/matmul_quant_interface.wgsl?raw';
import kernel from '../../../kernels/matmul_quant.wgsl?raw';
import tensorKernel from '../../../kernels/matmul_quant_tensor.wgsl?raw';
import f16Kernel from '../../../kernels/matmul_quant_f16.wgsl?raw';

/** What every kernel of these products is followed by: their uniform and bindings, and the block decoding. */
const blocks = `${kernelInterface}\n${ggmlBlocks}`;
const source = `${kernel}\n${blocks}`;

/** The tensor-core kernel's source for one subgroup matrix shape; `kernel` (tests) replaces its text. */
export function tensorMatmulSource(shape: TensorShape, kernel = tensorKernel): string {
  const consts = `const SM: u32 = ${shape.M}u;\nconst SN: u32 = ${shape.N}u;\nconst SK: u32 = ${shape.K}u;\nconst SG: u32 = ${shape.subgroupSize}u;`;
  return `${kernel}\n${consts}\n${blocks}`;
}

/** The f16-arithmetic kernel's source; `kernel` (tests) replaces its text. */
export function f16MatmulSource(kernel = f16Kernel): string {
  return `${kernel}\n${blocks}`;
}

/** An f16 x f16 -> f32 subgroup matrix shape (M x K times K x N) and the one subgroup size of the adapter. */
export interface TensorShape {
  M: number;
  N: number;
  K: number;
  subgroupSize: number;
}

/** A kernel with f16 operands: on tensor cores (a subgroup matrix shape), or on f16 ALUs; and its WGSL. */
export type HalfKernel = { kind: 'tensor'; shape: TensorShape; source: string } | { kind: 'f16'; source: string };

/** The half-precision kernel of each GPU where one passed its self-test (matmul_quant_half.ts). */
const verifiedHalfKernels = new WeakMap<Gpu, HalfKernel>();

/** The half-precision kernel f16 products use on this GPU, once one passed its self-test there; else null. */
export function halfKernel(gpu: Gpu): HalfKernel | null {
  return verifiedHalfKernels.get(gpu) ?? null;
}

/** For matmul_quant_half.ts's self-test only: the kernel it just verified on this GPU. */
export function useHalfKernel(gpu: Gpu, kernel: HalfKernel): void {
  verifiedHalfKernels.set(gpu, kernel);
}

/**
 * A frozen weight W [out, in] kept on the GPU as the raw bytes of its GGML blocks (as a GGUF file holds
 * them: row after row, each row inFeatures values in whole blocks), padded to a multiple of 4 bytes.
 */
export interface QuantWeight {
  kind: 'quant';
  type: GgmlType;
  buffer: GPUBuffer;
  outFeatures: number;
  inFeatures: number;
}

/** Rows [firstRow, firstRow + rows) of W, used as if W were only those rows (a vocabulary chunk). */
export interface QuantRowRange {
  firstRow: number;
  rows: number;
}

export interface QuantForwardArgs {
  /** [rows, in] */
  x: GPUBuffer;
  w: QuantWeight;
  /** Only these rows of W (then out = wRows.rows). */
  wRows?: QuantRowRange;
  /** [rows, out], or columns yOffset.. of a [rows, ldy] matrix. */
  y: GPUBuffer;
  rows: number;
  /** Row stride of y (default out). */
  ldy?: number;
  /** Element offset of y (default 0). */
  yOffset?: number;
  /** 0 overwrites y; 1 accumulates into it. */
  beta?: number;
  /** Force a kernel (tests); by default quantMatmulKernel's choice. */
  kernel?: QuantMatmulKernel;
  /** 'f16' allows the half-precision kernel that passed its self-test on this GPU, if any (default 'f32'). */
  precision?: MatmulPrecision;
  /** The self-test only: run this half-precision kernel, verified or not. */
  half?: HalfKernel;
  label?: string;
}

export interface QuantBackwardArgs {
  /** [rows, out] */
  dy: GPUBuffer;
  w: QuantWeight;
  /** Only these rows of W (then out = wRows.rows). */
  wRows?: QuantRowRange;
  /** [rows, in] */
  dx: GPUBuffer;
  rows: number;
  /** 0 overwrites dx; 1 accumulates into it. */
  beta?: number;
  /** Force a kernel (tests); by default quantMatmulKernel's choice. */
  kernel?: QuantMatmulKernel;
  /** 'f16' allows the half-precision kernel that passed its self-test on this GPU, if any (default 'f32'). */
  precision?: MatmulPrecision;
  /** The self-test only: run this half-precision kernel, verified or not. */
  half?: HalfKernel;
  label?: string;
}

/**
 * 'tiled_vec4' reads A as vec4s and keeps both tiles in vec4s; it needs K (the summed dimension) % 4 == 0.
 * 'tensor' multiplies f16 tiles on tensor cores (kernels/matmul_quant_tensor.wgsl), 'f16' in f16 arithmetic
 * (kernels/matmul_quant_f16.wgsl).
 */
export type QuantMatmulKernel = 'tiled' | 'tiled_vec4' | HalfKernel['kind'];

/** f32 throughout, or f16 operands (rounded, each row of A scaled first) with f32 sums where that is faster. */
export type MatmulPrecision = 'f32' | 'f16';

/**
 * The kernel for a product that sums over K values per output (forward: in; backward: the rows of W used):
 * for f16 precision, the half-precision kernel that passed its self-test on this GPU if any, else f32 tiles.
 */
export function quantMatmulKernel(K: number, precision: MatmulPrecision = 'f32', gpu?: Gpu): QuantMatmulKernel {
  const half = precision === 'f16' && gpu ? verifiedHalfKernels.get(gpu) : undefined;
  if (half) return half.kind;
  return K % 4 === 0 ? 'tiled_vec4' : 'tiled';
}

const TILE_N = 64;
/** The tensor kernel's tile of C: 64 x 64. */
const TENSOR_TILE_ROWS = 64;
/** At or below this many rows, workgroups take 16-row tiles instead of 64. */
const SKINNY_ROWS = 16;

/** Throws unless w's rows are whole blocks and its buffer holds them all. */
export function checkQuantWeight(w: QuantWeight): void {
  const size = blockSize(w.type);
  if (w.inFeatures % size !== 0) {
    throw new Error(
      `${w.type} weight [${w.outFeatures}, ${w.inFeatures}]: rows must be whole blocks of ${size} values, ` +
        `but ${w.inFeatures} is not a multiple of ${size}`,
    );
  }
  const bytes = tensorBytes(w.type, w.outFeatures * w.inFeatures);
  if (w.buffer.size < bytes) {
    throw new Error(`${w.type} weight [${w.outFeatures}, ${w.inFeatures}] needs ${bytes} bytes, its buffer has ${w.buffer.size}`);
  }
}

/** Uploads a tensor's raw GGML bytes (W [out, in]) as a QuantWeight. */
export function uploadQuantWeight(gpu: Gpu, label: string, type: GgmlType, bytes: Uint8Array, outFeatures: number, inFeatures: number): QuantWeight {
  const need = tensorBytes(type, outFeatures * inFeatures);
  if (bytes.byteLength !== need) throw new Error(`${label}: ${type} [${outFeatures}, ${inFeatures}] is ${need} bytes, got ${bytes.byteLength}`);
  const w: QuantWeight = { kind: 'quant', type, buffer: gpu.upload(label, bytes), outFeatures, inFeatures };
  checkQuantWeight(w);
  return w;
}

/** The half-precision kernel's pipeline for a weight type and product (rowGroups: the f16 kernel's 16 or 64-row tiles). */
export function halfPipeline(gpu: Gpu, half: HalfKernel, type: GgmlType, entry: 'forward' | 'backward', rowGroups: 1 | 4): GPUComputePipeline {
  const constants = { TYPE: GGML_TYPE_ID[type], BACKWARD: entry === 'backward' ? 1 : 0 };
  return gpu.pipeline(half.source, 'main', half.kind === 'tensor' ? constants : { ...constants, ROW_GROUPS: rowGroups });
}

interface RunArgs {
  input: GPUBuffer;
  output: GPUBuffer;
  rows: number;
  beta: number;
  wRows?: QuantRowRange;
  ldc?: number;
  cOffset?: number;
  kernel?: QuantMatmulKernel;
  precision?: MatmulPrecision;
  half?: HalfKernel;
  label: string;
}

function run(gpu: Gpu, encoder: GPUCommandEncoder, entry: 'forward' | 'backward', w: QuantWeight, args: RunArgs): void {
  checkQuantWeight(w);
  const { rows, beta } = args;
  const range = args.wRows ?? { firstRow: 0, rows: w.outFeatures };
  if (!Number.isInteger(range.firstRow) || !Number.isInteger(range.rows) || range.firstRow < 0 || range.rows < 0 || range.firstRow + range.rows > w.outFeatures) {
    throw new Error(`${args.label}: rows [${range.firstRow}, ${range.firstRow + range.rows}) are not rows of the [${w.outFeatures}, ${w.inFeatures}] weight`);
  }
  const columns = entry === 'forward' ? range.rows : w.inFeatures;
  const ldc = args.ldc ?? columns;
  if (ldc < columns) throw new Error(`${args.label}: row stride ${ldc} is less than the ${columns} columns`);
  const params = new ArrayBuffer(32);
  const rowBytes = (w.inFeatures / blockSize(w.type)) * blockBytes(w.type);
  new Uint32Array(params).set([rows, range.rows, w.inFeatures, rowBytes]);
  new Float32Array(params)[4] = beta;
  new Uint32Array(params).set([range.firstRow, ldc, args.cOffset ?? 0], 5);
  const rowGroups = rows <= SKINNY_ROWS ? 1 : 4 as const;
  const K = entry === 'forward' ? w.inFeatures : range.rows;
  const variant = args.half?.kind ?? args.kernel ?? quantMatmulKernel(K, args.precision, gpu);
  if (variant === 'tiled_vec4' && K % 4 !== 0) throw new Error(`${args.label}: the vec4 kernel needs K % 4 == 0, K is ${K}`);
  if (variant === 'tensor' || variant === 'f16') {
    const half = args.half ?? verifiedHalfKernels.get(gpu);
    if (half?.kind !== variant) throw new Error(`${args.label}: this GPU has no ${variant} matmul that passed its self-test`);
    gpu.run(encoder, {
      pipeline: halfPipeline(gpu, half, w.type, entry, rowGroups),
      buffers: [args.input, w.buffer, args.output],
      params,
      workgroups: [Math.ceil(columns / TILE_N), Math.ceil(rows / (half.kind === 'tensor' ? TENSOR_TILE_ROWS : 16 * rowGroups))],
      label: args.label,
    });
    return;
  }
  gpu.run(encoder, {
    pipeline: gpu.pipeline(source, variant === 'tiled_vec4' ? 'main_vec4' : 'main', { TYPE: GGML_TYPE_ID[w.type], ROW_GROUPS: rowGroups, BACKWARD: entry === 'backward' ? 1 : 0 }),
    buffers: [args.input, w.buffer, args.output],
    params,
    workgroups: [Math.ceil(columns / TILE_N), Math.ceil(rows / (16 * rowGroups))],
    label: args.label,
  });
}

/**
 * y [rows, out] (+)= x [rows, in] dequant(W)^T (W: the rows wRows of the weight, when given), in f32, or with f16
 * operands where precision 'f16' allows a verified half-precision kernel.
 */
export function quantMatmulForward(gpu: Gpu, encoder: GPUCommandEncoder, args: QuantForwardArgs): void {
  const { x, y, rows, wRows, ldy, yOffset, kernel, precision, half } = args;
  run(gpu, encoder, 'forward', args.w, { input: x, output: y, rows, beta: args.beta ?? 0, wRows, ldc: ldy, cOffset: yOffset, kernel, precision, half, label: args.label ?? 'matmul_quant' });
}

/** dx [rows, in] (+)= dy [rows, out] dequant(W) (W: the rows wRows of the weight, when given), as the forward's precision. */
export function quantMatmulBackward(gpu: Gpu, encoder: GPUCommandEncoder, args: QuantBackwardArgs): void {
  const { dy, dx, rows, wRows, kernel, precision, half } = args;
  run(gpu, encoder, 'backward', args.w, { input: dy, output: dx, rows, beta: args.beta ?? 0, wRows, kernel, precision, half, label: args.label ?? 'matmul_quant.dx' });
}
