// The Llama/Mistral decoder as an opset-18 ONNX graph (ai.onnx ops only) with transformers.js's decoder
// interface: input_ids, attention_mask, position_ids and past_key_values.{i}.key/value in; logits and
// present.{i}.key/value out. The forward is the engine's (src/engine/model.ts): RMSNorm, rotate-half RoPE from
// position_ids, GQA, SiLU-gated MLP, causal and sliding-window masks counted from the cache length.
import { ropeInverseFrequencies } from '../../engine/rope';
import { type LoraTarget, type ModelSpec, WEIGHT_NAMES, linearShape } from '../../engine/spec';
import {
  AttributeType, type AttributeMessage, DataType, type DataTypeId, type NodeMessage, type TensorMessage, type ValueInfoMessage, valueInfo,
} from './proto';

export const OPSET = 18;

/** A weight the graph reads: an HF tensor, stored transposed ([in, out]) for the linear layers' MatMul. */
export interface GraphWeight {
  /** Initializer name in the graph. */
  name: string;
  hfName: string;
  /** Dims as stored. */
  dims: number[];
  /** The linear layer, for weights LoRA may adapt; they are stored transposed. */
  linear?: { layer: number; target: LoraTarget };
}

export interface DecoderGraph {
  nodes: NodeMessage[];
  /** Small constants, with their data. */
  constants: TensorMessage[];
  /** The model's weights, in the order they are written. */
  weights: GraphWeight[];
  inputs: ValueInfoMessage[];
  outputs: ValueInfoMessage[];
}

/** Added to the scores of masked keys: finite, so that a row with every key masked (padding) gives no NaN. */
const MASKED = -3.4028234663852886e38;

type Attributes = Record<string, number | number[]>;

class Builder {
  readonly nodes: NodeMessage[] = [];
  readonly constants: TensorMessage[] = [];
  private readonly constantNames = new Map<string, string>();
  private count = 0;

  op(opType: string, inputs: string[], attributes: Attributes = {}, output?: string): string {
    return this.opN(opType, inputs, attributes, 1, output ? [output] : undefined)[0];
  }

  opN(opType: string, inputs: string[], attributes: Attributes, outputs: number, names?: string[]): string[] {
    const id = this.count++;
    const out = names ?? Array.from({ length: outputs }, (_, i) => `/${opType}_${id}${outputs > 1 ? `_${i}` : ''}`);
    const attribute: AttributeMessage[] = Object.entries(attributes).map(([name, v]) =>
      Array.isArray(v) ? { name, type: AttributeType.INTS, ints: v } : { name, type: AttributeType.INT, i: v },
    );
    this.nodes.push({ name: `${opType}_${id}`, op_type: opType, input: inputs, output: out, attribute });
    return out;
  }

  private constant(type: DataTypeId, bytes: Uint8Array, dims: number[], key: string): string {
    const known = this.constantNames.get(key);
    if (known) return known;
    const name = `const_${this.constantNames.size}`;
    this.constantNames.set(key, name);
    this.constants.push({ name, dims, data_type: type, raw_data: bytes });
    return name;
  }

  int64(values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    return this.constant(DataType.INT64, new Uint8Array(data.buffer), dims, `i64:${dims}:${values}`);
  }

  float(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const data = Float32Array.from(values);
    return this.constant(DataType.FLOAT, new Uint8Array(data.buffer), dims, `f32:${dims}:${Array.from(data)}`);
  }
}

/**
 * The decoder graph. With weightType FLOAT16 the weights are stored in f16 and cast to f32 where they are read,
 * so the model computes, and takes and returns its cache and logits, in f32 either way.
 */
export function decoderGraph(spec: ModelSpec, weightType: typeof DataType.FLOAT | typeof DataType.FLOAT16): DecoderGraph {
  const g = new Builder();
  const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, vocabSize: V, numLayers } = spec;
  if (H % KV !== 0) throw new Error(`${H} attention heads do not split into ${KV} key/value groups`);
  const groups = H / KV;
  const weights: GraphWeight[] = [];
  const weight = (hfName: string, dims: number[], linear?: GraphWeight['linear']): string => {
    const name = linear ? `${hfName}.T` : hfName;
    weights.push({ name, hfName, dims, linear });
    return weightType === DataType.FLOAT ? name : g.op('Cast', [name], { to: DataType.FLOAT });
  };

  const inputs = [
    valueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [valueInfo('logits', DataType.FLOAT, ['batch_size', 'sequence_length', V])];
  for (let l = 0; l < numLayers; l++) {
    for (const kind of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${l}.${kind}`, DataType.FLOAT, ['batch_size', KV, 'past_sequence_length', hd]));
      outputs.push(valueInfo(`present.${l}.${kind}`, DataType.FLOAT, ['batch_size', KV, 'total_sequence_length', hd]));
    }
  }

  // Sequence lengths as scalars: S new tokens, T in all, P = T - S in the cache.
  const scalar = (x: string) => g.op('Squeeze', [x, g.int64([0])]);
  const S = scalar(g.op('Shape', ['input_ids'], { start: 1, end: 2 }));
  const T = scalar(g.op('Shape', ['attention_mask'], { start: 1, end: 2 }));
  const P = g.op('Sub', [T, S]);

  // Query i (absolute position P + i) sees key j iff j <= P + i, attention_mask[j] = 1 and, with a sliding
  // window, P + i - j < window: an additive bias [B, 1, 1, S, T], broadcast over kv heads and their groups.
  const zero = g.int64([0], []);
  const one = g.int64([1], []);
  const queryAt = g.op('Unsqueeze', [g.op('Add', [g.op('Range', [zero, S, one]), P]), g.int64([1])]); // [S, 1]
  const keyAt = g.op('Unsqueeze', [g.op('Range', [zero, T, one]), g.int64([0])]); // [1, T]
  let visible = g.op('LessOrEqual', [keyAt, queryAt]);
  if (spec.slidingWindow !== null) {
    const inWindow = g.op('Less', [g.op('Sub', [queryAt, keyAt]), g.int64([spec.slidingWindow], [])]);
    visible = g.op('And', [visible, inWindow]);
  }
  const keyMask = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: DataType.BOOL }), g.int64([1, 2, 3])]); // [B, 1, 1, 1, T]
  const bias = g.op('Where', [g.op('And', [keyMask, visible]), g.float([0], []), g.float([MASKED], [])]);

  // RoPE angles from position_ids: [B, 1, S, hd/2], broadcast over heads.
  const invFreq = g.float(ropeInverseFrequencies(hd, spec.ropeTheta, spec.ropeScaling));
  const positions = g.op('Unsqueeze', [g.op('Cast', ['position_ids'], { to: DataType.FLOAT }), g.int64([2])]);
  const angles = g.op('Unsqueeze', [g.op('Mul', [positions, invFreq]), g.int64([1])]);
  const cos = g.op('Cos', [angles]);
  const sin = g.op('Sin', [angles]);
  const lastAxis = g.int64([-1]);
  const rope = (x: string): string => {
    // Slice, not Split: with opset 18's Split(num_outputs) onnxruntime-web's WebGPU EP gave halves that the next Mul refused.
    const x1 = g.op('Slice', [x, g.int64([0]), g.int64([hd / 2]), lastAxis]);
    const x2 = g.op('Slice', [x, g.int64([hd / 2]), g.int64([hd]), lastAxis]);
    const first = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
    const second = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
    return g.op('Concat', [first, second], { axis: -1 });
  };

  const eps = g.float([spec.rmsNormEps], []);
  const rmsnorm = (x: string, hfName: string): string => {
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x]), lastAxis], { keepdims: 1 });
    const rstd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [meanSquare, eps])])]);
    return g.op('Mul', [g.op('Mul', [x, rstd]), weight(hfName, [D])]);
  };
  const linear = (x: string, layer: number, target: LoraTarget): string => {
    const [out, inFeatures] = linearShape(spec, target);
    return g.op('MatMul', [x, weight(WEIGHT_NAMES.linear(layer, target), [inFeatures, out], { layer, target })]);
  };
  const heads = (x: string, n: number) => g.op('Transpose', [g.op('Reshape', [x, g.int64([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });

  const embedding = weight(WEIGHT_NAMES.embedding, [V, D]);
  let x = g.op('Gather', [embedding, 'input_ids'], { axis: 0 });
  const scale = g.float([1 / Math.sqrt(hd)], []);
  for (let l = 0; l < numLayers; l++) {
    const h = rmsnorm(x, WEIGHT_NAMES.attnNorm(l));
    const q = rope(heads(linear(h, l, 'q_proj'), H)); // [B, H, S, hd]
    const k = rope(heads(linear(h, l, 'k_proj'), KV)); // [B, KV, S, hd]
    const v = heads(linear(h, l, 'v_proj'), KV);
    const keys = g.op('Concat', [`past_key_values.${l}.key`, k], { axis: 2 }, `present.${l}.key`); // [B, KV, T, hd]
    const values = g.op('Concat', [`past_key_values.${l}.value`, v], { axis: 2 }, `present.${l}.value`);
    // Query head h reads kv head h / groups: queries as [B, KV, groups, S, hd] against keys [B, KV, 1, T, hd].
    const grouped = g.op('Reshape', [g.op('Mul', [q, scale]), g.int64([0, KV, groups, -1, hd])]);
    const keysT = g.op('Transpose', [g.op('Unsqueeze', [keys, g.int64([2])])], { perm: [0, 1, 2, 4, 3] });
    const scores = g.op('Add', [g.op('MatMul', [grouped, keysT]), bias]); // [B, KV, groups, S, T]
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const attn = g.op('MatMul', [probs, g.op('Unsqueeze', [values, g.int64([2])])]); // [B, KV, groups, S, hd]
    const merged = g.op('Transpose', [g.op('Reshape', [attn, g.int64([0, H, -1, hd])])], { perm: [0, 2, 1, 3] });
    x = g.op('Add', [x, linear(g.op('Reshape', [merged, g.int64([0, 0, H * hd])]), l, 'o_proj')]);

    const m = rmsnorm(x, WEIGHT_NAMES.mlpNorm(l));
    const gate = linear(m, l, 'gate_proj');
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(m, l, 'up_proj')]);
    x = g.op('Add', [x, linear(act, l, 'down_proj')]);
  }
  const hidden = g.op('Reshape', [rmsnorm(x, WEIGHT_NAMES.finalNorm), g.int64([-1, D])]);
  const head = spec.tieWordEmbeddings ? embedding : weight(WEIGHT_NAMES.lmHead, [V, D]);
  const logits2d = g.op('Gemm', [hidden, head], { transB: 1 });
  const logitsShape = g.op('Concat', [g.op('Shape', ['input_ids']), g.int64([V])], { axis: 0 });
  g.op('Reshape', [logits2d, logitsShape], {}, 'logits');

  return { nodes: g.nodes, constants: g.constants, weights, inputs, outputs };
}
