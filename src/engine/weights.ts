// The model's weights on the GPU, by role, and the ways to make them: from f32 tensors, from a quantized
// checkpoint's blocks, from tensors a streaming loader already put on the GPU, or random (benchmarks).
import type { Gpu } from '../gpu/gpu';
import { type GgmlType, blockSize, tensorBytes } from './ggml';
import type { BaseWeight } from './linear';
import { fillUniform } from './ops/fill';
import { f32RowsOf } from './ops/dequantize';
import { type QuantWeight, checkQuantWeight, uploadQuantWeight } from './ops/matmul_quant';
import { ropeInverseFrequencies } from './rope';
import { type LoraTarget, type ModelSpec, WEIGHT_NAMES, linearShape } from './spec';
import { type VocabTable, tableRowBytes, tableRowRanges, tableTypeOnGpu } from './vocab-table';

export interface LayerWeights {
  attnNorm: GPUBuffer;
  q: BaseWeight;
  k: BaseWeight;
  v: BaseWeight;
  o: BaseWeight;
  mlpNorm: GPUBuffer;
  gate: BaseWeight;
  up: BaseWeight;
  down: BaseWeight;
}

/** A named tensor as a loader hands it over. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorLookup = (name: string) => HostTensor | undefined;

/** A tensor as a quantized checkpoint stores it: raw GGML blocks (HF layout [out, in], rows in HF order). */
export interface EncodedTensor {
  type: GgmlType;
  shape: number[];
  bytes: Uint8Array;
  /** The exact f32 values. */
  dequantize(): Float32Array;
}

export type EncodedLookup = (name: string) => EncodedTensor | undefined;

/** A tensor whose raw bytes are on the GPU as the file stores them (q/k rows already in HF order). */
export interface GpuTensor {
  type: GgmlType;
  /** HF order: [out, in] for a matrix, [n] for a vector. */
  shape: number[];
  /** At least the tensor's bytes (tensorBytes(type, elements)), padded to a multiple of 4. */
  buffer: GPUBuffer;
}

export type GpuTensorLookup = (name: string) => GpuTensor | undefined;

/** Rows [firstRow, firstRow + rows) of a 2-D tensor: one part of a table split over bindings. */
export interface RowRange {
  firstRow: number;
  rows: number;
}

export interface ModelOptions {
  /** Largest buffer for one part of the embedding or LM head; default the device's binding limit. */
  maxTablePartBytes?: number;
}

/** The given rows of a row-major [R, C] array (all of it when `rows` is absent). */
function rowsOf(data: Float32Array, shape: number[], rows?: RowRange): Float32Array {
  if (!rows) return data;
  return data.subarray(rows.firstRow * shape[1], (rows.firstRow + rows.rows) * shape[1]);
}

/**
 * A table (embedding or LM head) kept in its GGML blocks: its type, and a buffer of the raw bytes of `rows`
 * (all rows when absent). Null: the table becomes f32.
 */
type EncodedTableMaker = (name: string, shape: [number, number]) => { type: GgmlType; part(rows?: RowRange): GPUBuffer } | null;

/** The named tensor, which must exist with the shape the spec implies. */
function checked<T extends { shape: number[] }>(lookup: (name: string) => T | undefined, name: string, shape: number[]): T {
  const t = lookup(name);
  if (!t) throw new Error(`the weights lack ${name}`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new Error(`${name} has shape [${t.shape}], but the model's config implies [${shape}]`);
  }
  return t;
}

export class Model {
  readonly layers: LayerWeights[] = [];
  /** embed_tokens.weight [V, D], in row parts when it outgrows one binding. */
  readonly embedding: VocabTable;
  readonly finalNorm: GPUBuffer;
  /** lm_head.weight [V, D], or the embedding table when tied. */
  readonly lmHead: VocabTable;
  readonly invFreq: GPUBuffer;
  /** The HF name of every weight buffer. */
  readonly names = new Map<GPUBuffer, string>();
  private readonly owned: GPUBuffer[] = [];

  /** f32 base weights by their HF names, every shape checked against the spec. */
  static fromTensors(gpu: Gpu, spec: ModelSpec, tensors: TensorLookup, options: ModelOptions = {}): Model {
    return new Model(gpu, spec, options, (name, shape, rows) => gpu.upload(name, rowsOf(checked(tensors, name, shape).data, shape, rows)));
  }

  /**
   * Base weights as a checkpoint stores them (GGUF): the linear layers, the embedding and the LM head stay in
   * their GGML blocks on the GPU (a quantized table is decoded row by row in the gather and inside the LM-head
   * matmuls); norms and F16/BF16 tables are dequantized to f32 on load.
   */
  static fromEncoded(gpu: Gpu, spec: ModelSpec, tensors: EncodedLookup, options: ModelOptions = {}): Model {
    const encoded = (name: string, shape: number[]) => checked(tensors, name, shape);
    const table: EncodedTableMaker = (name, shape) => {
      const t = encoded(name, shape);
      if (tableTypeOnGpu(t.type) === 'F32') return null;
      const rowBytes = tableRowBytes(shape[1], t.type);
      return {
        type: t.type,
        part: (rows) => gpu.upload(name, rows ? t.bytes.subarray(rows.firstRow * rowBytes, (rows.firstRow + rows.rows) * rowBytes) : t.bytes),
      };
    };
    return new Model(
      gpu, spec, options,
      (name, shape, rows) => gpu.upload(name, rowsOf(encoded(name, shape).dequantize(), shape, rows)),
      (name, out, inF) => {
        const t = encoded(name, [out, inF]);
        if (t.type === 'F32') return { kind: 'f32', buffer: gpu.upload(name, t.dequantize()), outFeatures: out, inFeatures: inF };
        return uploadQuantWeight(gpu, name, t.type, t.bytes, out, inF);
      },
      table,
    );
  }

  /**
   * Base weights whose raw bytes a streaming loader already put on the GPU. Linear layers keep their buffers
   * (F32, or GGML blocks that the quant matmul reads), and so do quantized tables (their parts copied out of
   * the raw buffer when they are split); norms and F16/BF16 tables become f32 buffers: F32 ones are kept as they
   * are (when whole), others are decoded on the GPU and their raw buffers destroyed.
   * Once this returns the Model owns every buffer it took; when it throws, the caller still frees all it passed
   * in (destroying a buffer twice is harmless).
   */
  static fromGpuTensors(gpu: Gpu, spec: ModelSpec, tensors: GpuTensorLookup, options: ModelOptions = {}): Model {
    const tensor = (name: string, shape: number[]): GpuTensor => {
      const t = checked(tensors, name, shape);
      const cols = shape[shape.length - 1];
      if (cols % blockSize(t.type) !== 0) throw new Error(`${name}: ${t.type} rows hold whole blocks of ${blockSize(t.type)} values, not ${cols}`);
      const bytes = tensorBytes(t.type, shape.reduce((a, b) => a * b, 1));
      if (t.buffer.size < bytes) throw new Error(`${name}: ${t.type} [${shape}] needs ${bytes} bytes, its buffer has ${t.buffer.size}`);
      return t;
    };
    const kept = new Set<GPUBuffer>(); // raw buffers the Model holds as they are
    const decoded = new Set<GPUBuffer>(); // raw buffers read into new f32 buffers
    const dense = (name: string, shape: number[], rows?: RowRange): GPUBuffer => {
      const t = tensor(name, shape);
      if (t.type === 'F32' && !rows) {
        kept.add(t.buffer);
        return t.buffer;
      }
      decoded.add(t.buffer);
      const { firstRow, rows: count } = rows ?? { firstRow: 0, rows: shape.length === 2 ? shape[0] : 1 };
      return f32RowsOf(gpu, name, { type: t.type, encoded: t.buffer, cols: shape[shape.length - 1] }, firstRow, count);
    };
    const linear = (name: string, out: number, inF: number): BaseWeight => {
      const t = tensor(name, [out, inF]);
      if (t.type === 'F32') {
        kept.add(t.buffer);
        return { kind: 'f32', buffer: t.buffer, outFeatures: out, inFeatures: inF };
      }
      const w: QuantWeight = { kind: 'quant', type: t.type, buffer: t.buffer, outFeatures: out, inFeatures: inF };
      checkQuantWeight(w);
      kept.add(t.buffer);
      return w;
    };
    const table: EncodedTableMaker = (name, shape) => {
      const t = tensor(name, shape);
      if (tableTypeOnGpu(t.type) === 'F32') return null;
      const rowBytes = tableRowBytes(shape[1], t.type);
      return {
        type: t.type,
        part: (rows) => {
          if (!rows) {
            kept.add(t.buffer);
            return t.buffer;
          }
          decoded.add(t.buffer);
          // Parts start at multiples of 4 bytes (tableRowRanges); the raw buffer is padded to a multiple of 4.
          const bytes = Math.ceil((rows.rows * rowBytes) / 4) * 4;
          const out = gpu.buffer(`${name}[${rows.firstRow}:${rows.firstRow + rows.rows}]`, bytes);
          const encoder = gpu.device.createCommandEncoder();
          encoder.copyBufferToBuffer(t.buffer, rows.firstRow * rowBytes, out, 0, bytes);
          gpu.device.queue.submit([encoder.finish()]);
          return out;
        },
      };
    };
    try {
      return new Model(gpu, spec, options, dense, linear, table);
    } finally {
      gpu.destroy(...[...decoded].filter((buffer) => !kept.has(buffer)));
    }
  }

  /** Random weights made on the GPU (for benchmarks): linear layers U(-1/sqrt(in), 1/sqrt(in)), norms near 1. */
  static random(gpu: Gpu, spec: ModelSpec, seed: number, options: ModelOptions = {}): Model {
    let n = 0;
    return new Model(gpu, spec, options, (name, shape, rows) => {
      const count = rows ? rows.rows * shape[1] : shape.reduce((a, b) => a * b, 1);
      const buffer = gpu.buffer(name, count * 4);
      const isNorm = shape.length === 1;
      const encoder = gpu.device.createCommandEncoder();
      fillUniform(gpu, encoder, { buffer, count, seed: seed * 7919 + n++, scale: isNorm ? 0.1 : 1 / Math.sqrt(shape[1]), offset: isNorm ? 1 : 0 });
      gpu.device.queue.submit([encoder.finish()]);
      return buffer;
    });
  }

  /**
   * makeDense gives an f32 tensor, or only `rows` of it for a part of a split table; makeLinear defaults to an
   * f32 weight made by makeDense; makeEncodedTable (default none) keeps a table in its GGML blocks.
   */
  private constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    options: ModelOptions,
    makeDense: (name: string, shape: number[], rows?: RowRange) => GPUBuffer,
    makeLinear?: (name: string, out: number, inF: number) => BaseWeight,
    makeEncodedTable?: EncodedTableMaker,
  ) {
    const { hiddenSize: d, headDim: hd, vocabSize: V } = spec;
    const weight = (name: string, shape: number[], rows?: RowRange): GPUBuffer => {
      const buffer = makeDense(name, shape, rows);
      this.owned.push(buffer);
      this.names.set(buffer, rows ? `${name}[${rows.firstRow}:${rows.firstRow + rows.rows}]` : name);
      return buffer;
    };
    const maxPartBytes = options.maxTablePartBytes ?? Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const table = (name: string): VocabTable => {
      const encoded = makeEncodedTable?.(name, [V, d]) ?? null;
      if (encoded) {
        const ranges = tableRowRanges(V, d, maxPartBytes, encoded.type);
        const part = (range: RowRange): GPUBuffer => {
          const whole = ranges.length === 1;
          const buffer = encoded.part(whole ? undefined : range);
          this.owned.push(buffer);
          this.names.set(buffer, whole ? name : `${name}[${range.firstRow}:${range.firstRow + range.rows}]`);
          return buffer;
        };
        return { rows: V, dim: d, type: encoded.type, parts: ranges.map((range) => ({ ...range, buffer: part(range) })) };
      }
      const ranges = tableRowRanges(V, d, maxPartBytes);
      if (ranges.length === 1) return { rows: V, dim: d, type: 'F32', parts: [{ buffer: weight(name, [V, d]), firstRow: 0, rows: V }] };
      return { rows: V, dim: d, type: 'F32', parts: ranges.map((range) => ({ ...range, buffer: weight(name, [V, d], range) })) };
    };
    const linear = (name: string, out: number, inF: number): BaseWeight => {
      if (!makeLinear) return { kind: 'f32', buffer: weight(name, [out, inF]), outFeatures: out, inFeatures: inF };
      const w = makeLinear(name, out, inF);
      this.owned.push(w.buffer);
      this.names.set(w.buffer, name);
      return w;
    };
    try {
      this.embedding = table(WEIGHT_NAMES.embedding);
      for (let l = 0; l < spec.numLayers; l++) {
        const proj = (target: LoraTarget) => {
          const [out, inF] = linearShape(spec, target);
          return linear(WEIGHT_NAMES.linear(l, target), out, inF);
        };
        this.layers.push({
          attnNorm: weight(WEIGHT_NAMES.attnNorm(l), [d]),
          q: proj('q_proj'), k: proj('k_proj'), v: proj('v_proj'), o: proj('o_proj'),
          mlpNorm: weight(WEIGHT_NAMES.mlpNorm(l), [d]),
          gate: proj('gate_proj'), up: proj('up_proj'), down: proj('down_proj'),
        });
      }
      this.finalNorm = weight(WEIGHT_NAMES.finalNorm, [d]);
      this.lmHead = spec.tieWordEmbeddings ? this.embedding : table(WEIGHT_NAMES.lmHead);
      this.invFreq = gpu.upload('rope.inv_freq', ropeInverseFrequencies(hd, spec.ropeTheta, spec.ropeScaling));
      this.owned.push(this.invFreq);
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  /** Puts `weight` in place of a linear layer's weight (a LoRA merged into it), and frees the one it replaces. */
  replaceLinear(layer: number, target: LoraTarget, weight: BaseWeight): void {
    const key = LINEAR_OF[target];
    const old = this.layers[layer][key];
    const name = this.names.get(old.buffer) ?? `${layer}.${target}`;
    this.layers[layer][key] = weight;
    if (weight.buffer === old.buffer) return;
    this.owned.splice(this.owned.indexOf(old.buffer), 1, weight.buffer);
    this.names.delete(old.buffer);
    this.names.set(weight.buffer, name);
    this.gpu.destroy(old.buffer);
  }

  destroy(): void {
    this.gpu.destroy(...this.owned);
    this.owned.length = 0;
  }
}

/** A gradient buffer for every weight of the model, the same shape as the weight (full-parameter training). */
export interface ModelGradients {
  embedding: GPUBuffer;
  layers: Record<keyof LayerWeights, GPUBuffer>[];
  finalNorm: GPUBuffer;
  /** The embedding's buffer when the head is tied. */
  lmHead: GPUBuffer;
}

/** The base weight each LoRA target adapts. */
export const LINEAR_OF = {
  q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down',
} as const satisfies Record<LoraTarget, keyof LayerWeights>;
