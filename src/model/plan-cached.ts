// The memory plan of a LoRA run on a model in the browser's cache, from its files' headers alone, and of the run
// being set up (the model picker shows it before anything is loaded onto the GPU).
import type { GgmlType } from '../engine/ggml';
import type { ActivationDtype } from '../engine/activations';
import type { QuantizeOnLoad } from '../engine/load';
import { checkPlanFits, type PlanLimits } from '../engine/plan';
import { baseWeightShapes } from '../engine/spec';
import { specFromHfConfig } from './config';
import { type GgufHeader, blobRangeSource, parseGgufHeader } from './gguf/reader';
import { type ModelPlan, type PlanFigures, type RunPlanOptions, planFigures, planForGguf, planWithTypes, typeAfterLoad } from './gguf/plan';
import { EMBEDDED_SPEC } from './embedded';
import { getModel } from './sources/library';
import type { RunConfig } from '../train/run-config';
import { errorMessage } from '../util/errors';
import { headerByteLength, parseSafetensorsHeader } from './safetensors';
import { type LocatedSafetensor, checkGgufSplit, checkSafetensorsModel } from './validate';
import { type ModelCache, modelCache } from './sources/cache';
import type { CachedModel } from './sources/library';

const SAFETENSORS_GPU_TYPE: Partial<Record<string, GgmlType>> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };

export async function planCachedModel(
  manifest: CachedModel, quantize: QuantizeOnLoad | undefined, options: RunPlanOptions, cache: ModelCache = modelCache(),
): Promise<ModelPlan> {
  const blob = async (key: string) => {
    const found = await cache.blob(key);
    if (!found) throw new Error(`${manifest.name}: ${key} is no longer in the browser's model cache`);
    return found;
  };
  if (manifest.format === 'gguf') {
    const headers: GgufHeader[] = [];
    for (const key of manifest.weights) {
      try {
        headers.push(await parseGgufHeader(blobRangeSource(await blob(key))));
      } catch (error) {
        throw new Error(`${key}: ${errorMessage(error)}`);
      }
    }
    checkGgufSplit(headers.map((header, i) => ({ name: manifest.weights[i], metadata: header.metadata })));
    try {
      return planForGguf(headers, options, quantize);
    } catch (error) {
      throw new Error(`${manifest.weights[0]}: ${errorMessage(error)}`, { cause: error }); // the metadata is the first part's
    }
  }
  if (!manifest.config) throw new Error(`${manifest.name}: the manifest names no config.json`);
  const warnings: string[] = [];
  let config: unknown;
  try {
    config = JSON.parse(await (await blob(manifest.config)).text());
  } catch (error) {
    throw new Error(`${manifest.config}: not valid JSON (${errorMessage(error)})`);
  }
  let spec;
  try {
    spec = specFromHfConfig(config, warnings);
  } catch (error) {
    throw new Error(`${manifest.config}: ${errorMessage(error)}`, { cause: error });
  }
  const tensors = new Map<string, LocatedSafetensor>();
  for (const key of manifest.weights) {
    const file = await blob(key);
    try {
      const length = headerByteLength(new Uint8Array(await file.slice(0, 8).arrayBuffer()));
      const header = parseSafetensorsHeader(new Uint8Array(await file.slice(0, 8 + length).arrayBuffer()), file.size);
      for (const [name, info] of header.tensors) {
        if (tensors.has(name)) throw new Error(`tensor ${name} is also in ${tensors.get(name)?.file}`);
        tensors.set(name, { dtype: info.dtype, shape: info.shape, file: key });
      }
    } catch (error) {
      throw new Error(`${key}: ${errorMessage(error)}`);
    }
  }
  checkSafetensorsModel(spec, tensors, manifest.weights, warnings);
  const shapes = baseWeightShapes(spec);
  const types = (name: string): GgmlType =>
    typeAfterLoad(name, SAFETENSORS_GPU_TYPE[tensors.get(name)?.dtype ?? 'F32'] ?? 'F32', shapes.get(name) ?? [0, 0], quantize);
  return { spec, plan: planWithTypes(spec, types, options), warnings };
}

/** WebGPU's default limits, for when no adapter has been probed. */
const DEFAULT_LIMITS: PlanLimits = { maxStorageBufferBindingSize: 128 * 1024 * 1024, maxBufferSize: 256 * 1024 * 1024 };

export type SetupPlan =
  | { kind: 'plan'; figures: PlanFigures; maxBinding: number; problem: string | null; warnings: string[] }
  | { kind: 'none'; reason: string }
  | { kind: 'error'; message: string };

export async function setupPlan(config: RunConfig, limits: PlanLimits | undefined, activations: ActivationDtype): Promise<SetupPlan> {
  if (config.mode !== 'lora') return { kind: 'none', reason: 'The memory plan is for LoRA runs; full-parameter training is for the small embedded model.' };
  const adapterLimits = limits ?? DEFAULT_LIMITS;
  const options = {
    batch: config.batchSize, seqLen: config.contextLength, recompute: config.recompute, activations,
    lora: { rank: config.lora.rank, targets: config.lora.targets }, limits: adapterLimits,
  };
  try {
    let plan;
    let warnings: string[] = [];
    if (config.model.source === 'cached') {
      const manifest = await getModel(config.model.id);
      if (!manifest) return { kind: 'error', message: `${config.model.name} is no longer in the model cache` };
      ({ plan, warnings } = await planCachedModel(manifest, config.model.quantize, options));
    } else {
      plan = planWithTypes(EMBEDDED_SPEC, () => 'F32', options);
    }
    let problem: string | null = null;
    try {
      checkPlanFits(plan, adapterLimits);
    } catch (error) {
      problem = errorMessage(error);
    }
    return { kind: 'plan', figures: planFigures(plan), maxBinding: Math.min(adapterLimits.maxBufferSize, adapterLimits.maxStorageBufferBindingSize), problem, warnings };
  } catch (error) {
    return { kind: 'error', message: errorMessage(error) };
  }
}
