// ONNX export for transformers.js and onnxruntime (web and node): the base model with the LoRA adapter merged
// into its weights (W + s B A), as onnx/model.onnx (f32) and optionally onnx/model_fp16.onnx (f16 weights),
// beside config.json, generation_config.json and the tokenizer files.
import { f32ToF16Bits } from '../engine/ggml';
import { peftKey } from '../engine/peft';
import { type HostAdapter, adapterPair, adapterScaling, mergedWeight } from './adapter';
import { type BaseSource, writeModelFiles } from './base';
import { type DecoderGraph, type GraphWeight, OPSET, decoderGraph } from './onnx/graph';
import { DataLocation, DataType, type ModelMessage, type TensorMessage, encodeModel } from './onnx/proto';
import type { FileSink, FolderSink } from './sink';

export interface OnnxExportOptions {
  /** Also write onnx/model_fp16.onnx: the weights in f16, the computation, cache and logits in f32. */
  fp16?: boolean;
  /**
   * Weights in onnx/<model>.onnx_data beside the graph: always (true), never (false), or only for a model past
   * protobuf's 2 GB limit ('auto', the default).
   */
  externalData?: boolean | 'auto';
  /** After each weight: f32 bytes of weights done, of all. */
  onProgress?: (done: number, total: number) => void;
}

/** A single protobuf message cannot exceed 2 GiB; the graph and constants take well under the margin. */
const INLINE_LIMIT = 2 ** 31 - 2 ** 24;

const IR_VERSION = 8;

interface ModelFile {
  /** "model.onnx" or "model_fp16.onnx", under onnx/. */
  file: string;
  graph: DecoderGraph;
  bytesPerValue: 2 | 4;
  external: boolean;
  /** The weights' initializers, filled as they are written. */
  initializers: TensorMessage[];
  data?: FileSink;
  offset: number;
}

const elementCount = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Writes the exported model folder. Weights are read one at a time, merged, and streamed to external data. */
export async function exportOnnx(base: BaseSource, adapter: HostAdapter | null, folder: FolderSink, options: OnnxExportOptions = {}): Promise<void> {
  const { spec } = base;
  if (adapter && JSON.stringify(adapter.spec) !== JSON.stringify(spec)) throw new Error('the adapter was trained on another model than the base');
  const files: ModelFile[] = [];
  for (const [file, type, bytesPerValue] of [['model.onnx', DataType.FLOAT, 4], ['model_fp16.onnx', DataType.FLOAT16, 2]] as const) {
    if (type === DataType.FLOAT16 && !options.fp16) continue;
    const graph = decoderGraph(spec, type);
    const weightBytes = graph.weights.reduce((n, w) => n + elementCount(w.dims) * bytesPerValue, 0);
    const external = options.externalData === true || ((options.externalData ?? 'auto') === 'auto' && weightBytes > INLINE_LIMIT);
    files.push({ file, graph, bytesPerValue, external, initializers: [], offset: 0 });
  }
  const externalFiles = files.filter((f) => f.external);
  // transformers.js reads one data chunk, <file>_data, for each file named here.
  const jsConfig = externalFiles.length > 0 ? { use_external_data_format: Object.fromEntries(externalFiles.map((f) => [f.file, 1])) } : undefined;
  await writeModelFiles(base, folder, 'float32', jsConfig ? { 'transformers.js_config': jsConfig } : {});

  for (const f of externalFiles) f.data = await folder.file(`onnx/${f.file}_data`);
  const weights = files[0].graph.weights;
  const total = weights.reduce((n, w) => n + elementCount(w.dims) * 4, 0);
  let done = 0;
  for (const [i, w] of weights.entries()) {
    const values = await weightValues(base, adapter, w);
    for (const f of files) {
      const graphWeight = f.graph.weights[i];
      if (graphWeight.name !== w.name) throw new Error(`ONNX export: weight ${i} is ${graphWeight.name} in ${f.file}, ${w.name} in ${files[0].file}`);
      const bytes = f.bytesPerValue === 4 ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : f16Bytes(values);
      const tensor: TensorMessage = { name: w.name, dims: w.dims, data_type: f.bytesPerValue === 4 ? DataType.FLOAT : DataType.FLOAT16 };
      if (f.data) {
        await f.data.write(bytes);
        tensor.data_location = DataLocation.EXTERNAL;
        tensor.external_data = [
          { key: 'location', value: `${f.file}_data` },
          { key: 'offset', value: String(f.offset) },
          { key: 'length', value: String(bytes.length) },
        ];
        f.offset += bytes.length;
      } else {
        tensor.raw_data = bytes;
      }
      f.initializers.push(tensor);
    }
    done += values.length * 4;
    options.onProgress?.(done, total);
  }
  for (const f of externalFiles) await f.data!.close();

  for (const f of files) {
    const model: ModelMessage = {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'ManyICL Workbench',
      producer_version: '1',
      graph: {
        name: `${spec.arch}-decoder`,
        node: f.graph.nodes,
        initializer: [...f.graph.constants, ...f.initializers],
        input: f.graph.inputs,
        output: f.graph.outputs,
      },
    };
    const sink = await folder.file(`onnx/${f.file}`);
    await sink.write(encodeModel(model));
    await sink.close();
  }
}

/** One weight as the graph stores it: f32, the adapter merged in, linear layers transposed to [in, out]. */
async function weightValues(base: BaseSource, adapter: HostAdapter | null, w: GraphWeight): Promise<Float32Array> {
  let values = await base.tensor(w.hfName);
  const count = elementCount(w.dims);
  if (values.length !== count) throw new Error(`${w.hfName}: ${values.length} values, expected ${w.dims.join(' x ')}`);
  if (!w.linear) return values;
  const [inFeatures, out] = w.dims;
  const pair = adapter && adapterPair(adapter, w.linear.layer, w.linear.target);
  if (adapter && pair) {
    const expected = adapter.config.rank * (inFeatures + out);
    if (pair.a.length + pair.b.length !== expected) throw new Error(`${peftKey(w.linear.layer, w.linear.target, 'A')}: the pair does not match rank ${adapter.config.rank}`);
    values = mergedWeight(values, out, inFeatures, pair, adapter.config.rank, adapterScaling(adapter));
  }
  const transposed = new Float32Array(count);
  for (let o = 0; o < out; o++) for (let i = 0; i < inFeatures; i++) transposed[i * out + o] = values[o * inFeatures + i];
  return transposed;
}

function f16Bytes(values: Float32Array): Uint8Array {
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = f32ToF16Bits(values[i]);
  return new Uint8Array(half.buffer);
}
