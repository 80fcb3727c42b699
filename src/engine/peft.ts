// The PEFT LoRA adapter format: adapter_config.json and the tensor names in adapter_model.safetensors.
import { LORA_TARGETS, type LoraTarget, type ModelSpec, linearBlock, linearModulePath, linearShape } from './spec';

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** In LORA_TARGETS order, without duplicates. */
  targets: LoraTarget[];
  /** rsLoRA: scale by alpha / sqrt(rank) instead of alpha / rank. */
  useRslora?: boolean;
}

/** The factor on the LoRA branch: y = x W^T + scaling * (x A^T) B^T. */
export function loraScaling(cfg: LoraConfig): number {
  return cfg.useRslora ? cfg.alpha / Math.sqrt(cfg.rank) : cfg.alpha / cfg.rank;
}

/** The key PEFT saves a LoRA tensor under, e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight. */
export function peftKey(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  return `base_model.model.${linearModulePath(layer, target)}.lora_${which}.weight`;
}

function fail(message: string): never {
  throw new Error(`adapter_config.json: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Absent, null, false, empty list or empty object: the option is off. */
function isUnset(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isObject(value)) return Object.keys(value).length === 0;
  return false;
}

/** Options that change what the adapter computes or which weights it holds, and that we don't implement. */
const UNSUPPORTED_OPTIONS = [
  'use_dora',
  'rank_pattern',
  'alpha_pattern',
  'layers_to_transform',
  'layer_replication',
  'modules_to_save',
  'fan_in_fan_out',
  'lora_bias',
  'use_qalora',
  'exclude_modules',
  'target_parameters',
  'trainable_token_indices',
  'alora_invocation_tokens',
  'use_bdlora',
] as const;

/**
 * One entry of target_modules. PEFT matches a module whose name equals the entry or ends with "." + entry,
 * so "q_proj" and "self_attn.q_proj" both name the q projections of every layer.
 */
function targetOfModuleName(entry: string): LoraTarget {
  for (const target of LORA_TARGETS) {
    if (entry === target || entry === `${linearBlock(target)}.${target}`) return target;
  }
  return fail(`unsupported target module "${entry}" (supported: ${LORA_TARGETS.join(', ')})`);
}

function parseTargets(value: unknown): LoraTarget[] {
  if (value === 'all-linear') return [...LORA_TARGETS];
  if (typeof value === 'string') fail(`target_modules as a regular expression ("${value}") is not supported`);
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) {
    fail(`target_modules must be a non-empty list of module names, got ${JSON.stringify(value)}`);
  }
  const chosen = new Set(value.map(targetOfModuleName));
  return LORA_TARGETS.filter((t) => chosen.has(t));
}

/** Reads a PEFT adapter_config.json; throws naming any option that would change the adapter's meaning. */
export function parseAdapterConfig(json: unknown): LoraConfig {
  if (!isObject(json)) fail('is not a JSON object');
  if (json.peft_type !== 'LORA') fail(`peft_type must be "LORA", got ${JSON.stringify(json.peft_type)}`);
  const rank = json.r;
  if (typeof rank !== 'number' || !Number.isSafeInteger(rank) || rank <= 0) {
    fail(`r must be a positive integer, got ${JSON.stringify(rank)}`);
  }
  const alpha = json.lora_alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    fail(`lora_alpha must be a positive number, got ${JSON.stringify(alpha)}`);
  }
  for (const option of UNSUPPORTED_OPTIONS) {
    if (!isUnset(json[option])) fail(`${option} = ${JSON.stringify(json[option])} is not supported`);
  }
  if (json.bias !== undefined && json.bias !== 'none') {
    fail(`bias = ${JSON.stringify(json.bias)} is not supported (only "none")`);
  }
  const useRslora = json.use_rslora ?? false;
  if (typeof useRslora !== 'boolean') fail(`use_rslora must be a boolean, got ${JSON.stringify(useRslora)}`);
  return { rank, alpha, targets: parseTargets(json.target_modules), useRslora };
}

/** The adapter_config.json PEFT writes for this adapter (a LoRA for a causal LM, saved for inference). */
export function adapterConfigJson(cfg: LoraConfig, baseModel?: string): object {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: cfg.alpha,
    lora_bias: false,
    lora_dropout: 0,
    modules_to_save: null,
    peft_type: 'LORA',
    r: cfg.rank,
    rank_pattern: {},
    revision: null,
    target_modules: [...cfg.targets],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: cfg.useRslora ?? false,
  };
}

export interface LoraTensorShape {
  key: string;
  layer: number;
  target: LoraTarget;
  which: 'A' | 'B';
  /** A is [rank, in], B is [out, rank]. */
  shape: [number, number];
}

/** Every LoRA tensor of the adapter: by layer, then LORA_TARGETS order, A before B. */
export function loraTensorShapes(spec: ModelSpec, cfg: LoraConfig): LoraTensorShape[] {
  const shapes: LoraTensorShape[] = [];
  for (let layer = 0; layer < spec.numLayers; layer++) {
    for (const target of LORA_TARGETS) {
      if (!cfg.targets.includes(target)) continue;
      const [outFeatures, inFeatures] = linearShape(spec, target);
      shapes.push({ key: peftKey(layer, target, 'A'), layer, target, which: 'A', shape: [cfg.rank, inFeatures] });
      shapes.push({ key: peftKey(layer, target, 'B'), layer, target, which: 'B', shape: [outFeatures, cfg.rank] });
    }
  }
  return shapes;
}
