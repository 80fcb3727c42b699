// The memory plan of a LoRA run on a GGUF model, from its header alone (no tensor data): the real type of every
// tensor, as the engine keeps it on the GPU. Also the weight types of llama.cpp's quantization recipes, to plan
// a model shape in a type no file is at hand for. Pure: the CLI (`npm run plan`) and the app's picker call it.
import { type GgmlType, GGML_TYPES } from '../../engine/ggml';
import { type PlanGroup, type PlanOptions, type TrainingPlan, planTraining } from '../../engine/plan';
import { type ModelSpec, WEIGHT_NAMES, baseWeightShapes, isLinearWeight } from '../../engine/spec';
import { tableTypeOnGpu } from '../../engine/vocab-table';
import type { GgufHeader } from './reader';
import { ROPE_FREQS_TENSOR, ggufNameOfHfTensor, specFromGguf } from './spec';
import { checkGgufModel } from '../validate';

/** What a plan needs besides the model: batch, context, LoRA, recomputation, the GPU's binding limits. */
export type RunPlanOptions = Omit<PlanOptions, 'linearType' | 'tableType'>;

/** The GPU type of every base matrix (linear layers and tables) by HF name. */
export type WeightTypes = (hfName: string) => GgmlType;

/** The plan of a run, and the spec and weight types it was made from. */
export interface ModelPlan {
  spec: ModelSpec;
  plan: TrainingPlan;
  /** Each default the model's files left the reader to take, in words. */
  warnings: string[];
}

/** A plan for `spec` with each matrix stored as `types` says (tables: F16/BF16 become f32, as the loader does). */
export function planWithTypes(spec: ModelSpec, types: WeightTypes, options: RunPlanOptions): TrainingPlan {
  return planTraining(spec, { ...options, linearType: types, tableType: (name) => tableTypeOnGpu(types(name)) });
}

/**
 * The plan of a LoRA run on the GGUF model whose header (or the headers of its split parts) is given. RoPE
 * scaling does not change the memory, so rope_freqs.weight (data, not header) is not needed.
 */
/**
 * The type a weight has on the GPU when the loader quantizes on load (engine/load.ts quantizeLinear): linear
 * F32/F16/BF16 weights whose rows are whole blocks of 32 become `quantize`; everything else stays.
 */
export function typeAfterLoad(name: string, type: GgmlType, shape: readonly number[], quantize: GgmlType | undefined): GgmlType {
  const float = type === 'F32' || type === 'F16' || type === 'BF16';
  return quantize && float && isLinearWeight(name) && shape[1] % 32 === 0 ? quantize : type;
}

export function planForGguf(header: GgufHeader | readonly GgufHeader[], options: RunPlanOptions, quantize?: GgmlType): ModelPlan {
  const headers = Array.isArray(header) ? (header as readonly GgufHeader[]) : [header as GgufHeader];
  if (headers.length === 0) throw new Error('GGUF: no header to plan from');
  const infos = headers.flatMap((h) => h.tensorInfos);
  const warnings: string[] = [];
  // RoPE scaling is not read (rope_freqs.weight's values are data), so its warning would be wrong: it is left out.
  const spec = specFromGguf(headers[0].metadata, infos.filter((info) => info.name !== ROPE_FREQS_TENSOR), undefined, warnings);
  checkGgufModel(spec, infos, ggufNameOfHfTensor);
  const hasRopeFreqs = infos.some((info) => info.name === ROPE_FREQS_TENSOR);
  const byName = new Map(infos.map((info) => [info.name, info]));
  const types = new Map<string, GgmlType>();
  for (const [hfName, shape] of baseWeightShapes(spec)) {
    const info = byName.get(ggufNameOfHfTensor(hfName) as string) as GgufHeader['tensorInfos'][number];
    types.set(hfName, typeAfterLoad(hfName, info.type, shape, quantize));
  }
  return {
    spec,
    plan: planWithTypes(spec, (name) => types.get(name) ?? 'F32', options),
    warnings: hasRopeFreqs ? warnings.filter((w) => !w.includes(ROPE_FREQS_TENSOR)) : warnings,
  };
}

/** Quantizations a model shape can be planned in: a GGML type for every matrix, or a llama.cpp mix. */
export type ShapeQuant = GgmlType | 'Q4_K_M';
export const SHAPE_QUANTS: readonly ShapeQuant[] = [...GGML_TYPES, 'Q4_K_M'];

/** llama.cpp's use_more_bits: the layers its _M mixes give more bits (the first and last eighth, every third). */
function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.floor(layers / 8);
  return layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

/**
 * The type of each matrix of `spec` quantized as `quant`. A GGML type: every matrix in that type. Q4_K_M, as
 * llama.cpp's llama_tensor_get_type makes it for a Llama/Mistral: Q4_K, except Q6_K for the LM head (the
 * embedding when tied) and for attn_v and ffn_down in the layers use_more_bits picks (for 32 layers: 0-3,
 * 28-31 and every third between, 16 of 32).
 */
export function quantWeightTypes(spec: ModelSpec, quant: ShapeQuant): WeightTypes {
  if (quant !== 'Q4_K_M') return () => quant;
  const head = spec.tieWordEmbeddings ? WEIGHT_NAMES.embedding : WEIGHT_NAMES.lmHead;
  return (name) => {
    if (name === head) return 'Q6_K';
    const match = /layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.weight$/.exec(name);
    if (match && (match[2] === 'v_proj' || match[2] === 'down_proj') && useMoreBits(Number(match[1]), spec.numLayers)) return 'Q6_K';
    return 'Q4_K';
  };
}

/** The plan of a model shape quantized as `quant`. */
export function planForShape(spec: ModelSpec, quant: ShapeQuant, options: RunPlanOptions): ModelPlan {
  return { spec, plan: planWithTypes(spec, quantWeightTypes(spec, quant), options), warnings: [] };
}

/** The figures of a plan in bytes, named as the CLI prints them. */
export interface PlanFigures {
  total_bytes: number;
  weights_bytes: number;
  lora_bytes: number;
  activations_bytes: number;
  loss_bytes: number;
  largest_binding_bytes: number;
}

export function planFigures(plan: TrainingPlan): PlanFigures {
  const g: Record<PlanGroup, number> = plan.bytesByGroup;
  return {
    total_bytes: plan.totalBytes,
    weights_bytes: g.weights,
    lora_bytes: g.lora,
    activations_bytes: g.activations,
    loss_bytes: g.loss,
    largest_binding_bytes: plan.largest.bytes,
  };
}
