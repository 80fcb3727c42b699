// What the engine needs to know about a Llama-family model, wherever the weights came from.

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface ModelSpec {
  arch: 'llama' | 'mistral';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Mistral: query i sees key j only when i - j < slidingWindow. */
  slidingWindow: number | null;
  /** The LM head is the embedding table. */
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** The linear layers LoRA can adapt, by their HF/PEFT names. */
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** The block holding a linear layer, as HF names it. */
export function linearBlock(target: LoraTarget): 'self_attn' | 'mlp' {
  return target === 'q_proj' || target === 'k_proj' || target === 'v_proj' || target === 'o_proj' ? 'self_attn' : 'mlp';
}

/** Module path of a linear layer in a Llama/Mistral model, e.g. model.layers.3.mlp.up_proj. */
export function linearModulePath(layer: number, target: LoraTarget): string {
  return `model.layers.${layer}.${linearBlock(target)}.${target}`;
}

/** The HF names of the base weights: the one place they are spelled out. */
export const WEIGHT_NAMES = {
  embedding: 'model.embed_tokens.weight',
  attnNorm: (layer: number) => `model.layers.${layer}.input_layernorm.weight`,
  mlpNorm: (layer: number) => `model.layers.${layer}.post_attention_layernorm.weight`,
  linear: (layer: number, target: LoraTarget) => `${linearModulePath(layer, target)}.weight`,
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
} as const;

export interface BaseWeightInfo {
  name: string;
  /** HF shape: [out, in] for a matrix. */
  shape: number[];
  role: 'embedding' | 'norm' | 'linear' | 'lm_head';
  /** The linear layer's name, for role 'linear'. */
  target?: LoraTarget;
}

/** Every base weight the spec needs, in the order of an HF checkpoint, with its HF shape. */
export function baseWeights(spec: ModelSpec): BaseWeightInfo[] {
  const d = spec.hiddenSize;
  const linear = (layer: number, target: LoraTarget): BaseWeightInfo =>
    ({ name: WEIGHT_NAMES.linear(layer, target), shape: linearShape(spec, target), role: 'linear', target });
  const weights: BaseWeightInfo[] = [{ name: WEIGHT_NAMES.embedding, shape: [spec.vocabSize, d], role: 'embedding' }];
  for (let l = 0; l < spec.numLayers; l++) {
    weights.push({ name: WEIGHT_NAMES.attnNorm(l), shape: [d], role: 'norm' });
    weights.push(linear(l, 'q_proj'), linear(l, 'k_proj'), linear(l, 'v_proj'), linear(l, 'o_proj'));
    weights.push({ name: WEIGHT_NAMES.mlpNorm(l), shape: [d], role: 'norm' });
    weights.push(linear(l, 'gate_proj'), linear(l, 'up_proj'), linear(l, 'down_proj'));
  }
  weights.push({ name: WEIGHT_NAMES.finalNorm, shape: [d], role: 'norm' });
  if (!spec.tieWordEmbeddings) weights.push({ name: WEIGHT_NAMES.lmHead, shape: [spec.vocabSize, d], role: 'lm_head' });
  return weights;
}

/** Every base weight the spec needs, by HF name, with its HF shape. */
export function baseWeightShapes(spec: ModelSpec): Map<string, number[]> {
  return new Map(baseWeights(spec).map((w) => [w.name, w.shape]));
}

/** Whether an HF weight name is one of the linear layers (those LoRA adapts and quantization packs). */
export function isLinearWeight(name: string): boolean {
  const match = /^model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.weight$/.exec(name);
  return match !== null && (LORA_TARGETS as readonly string[]).includes(match[3]) && linearBlock(match[3] as LoraTarget) === match[2];
}

/** [out, in] of each adaptable linear layer. */
export function linearShape(spec: ModelSpec, target: LoraTarget): [number, number] {
  const { hiddenSize: d, intermediateSize: f, numHeads: h, numKvHeads: kv, headDim: hd } = spec;
  switch (target) {
    case 'q_proj':
      return [h * hd, d];
    case 'k_proj':
    case 'v_proj':
      return [kv * hd, d];
    case 'o_proj':
      return [d, h * hd];
    case 'gate_proj':
    case 'up_proj':
      return [f, d];
    case 'down_proj':
      return [d, f];
  }
}
