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

/** Every base weight the spec needs, by HF name, with its HF shape. */
export function baseWeightShapes(spec: ModelSpec): Map<string, number[]> {
  const d = spec.hiddenSize;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [spec.vocabSize, d]]]);
  for (let l = 0; l < spec.numLayers; l++) {
    shapes.set(`model.layers.${l}.input_layernorm.weight`, [d]);
    shapes.set(`model.layers.${l}.post_attention_layernorm.weight`, [d]);
    for (const target of LORA_TARGETS) shapes.set(`${linearModulePath(l, target)}.weight`, linearShape(spec, target));
  }
  shapes.set('model.norm.weight', [d]);
  if (!spec.tieWordEmbeddings) shapes.set('lm_head.weight', [spec.vocabSize, d]);
  return shapes;
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
