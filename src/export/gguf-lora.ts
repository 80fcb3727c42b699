// A LoRA adapter as llama.cpp loads it (llama-cli --lora, llama_adapter_lora_init): a GGUF file of general.type
// "adapter", laid out as llama.cpp's convert_lora_to_gguf.py writes it. Each adapted weight "blk.N.attn_q.weight"
// has "….lora_a" (PEFT A [r, in], GGUF shape [in, r]) and "….lora_b" (PEFT B [out, r], GGUF shape [r, out]).
// The base GGUF has the rows of attn_q and attn_k permuted (src/model/gguf/spec.ts), so the rows of their
// lora_b are permuted the same way; lora_a multiplies the input and keeps its order.
//
// llama.cpp scales the branch by alpha / r, r read from lora_a. For an rsLoRA adapter (alpha / sqrt(r)) the file
// therefore holds alpha = scaling * r, which is what llama.cpp needs to get our scaling back.
import { WEIGHT_NAMES } from '../engine/spec';
import { quantize } from '../engine/ggml';
import { ggufNameOfHfTensor, permuteQkRows } from '../model/gguf/spec';
import { type GgufTensorInput, type GgufValue, ggufValue, writeGguf } from '../model/gguf/writer';
import { type HostAdapter, adapterPair, adapterScaling } from './adapter';
import type { FileSink } from './sink';

export type GgufLoraType = 'F32' | 'F16';

export interface GgufLoraOptions {
  /** Type of lora_a and lora_b; default F32 (the adapter is small, and llama.cpp applies it in that type). */
  type?: GgufLoraType;
  /** general.name */
  name?: string;
  /** The base model's Hub repo ("meta-llama/Llama-3.2-1B"), written as general.base_model.0.* when given. */
  baseRepo?: string;
}

/** general.file_type, as llama.cpp's LlamaFileType. */
const FILE_TYPE: Record<GgufLoraType, number> = { F32: 0, F16: 1 };

/** The alpha llama.cpp needs: alpha / r is our scaling, rsLoRA included. */
export function ggufLoraAlpha(adapter: HostAdapter): number {
  return adapter.config.useRslora ? adapterScaling(adapter) * adapter.config.rank : adapter.config.alpha;
}

export function ggufLoraMetadata(adapter: HostAdapter, opts: GgufLoraOptions = {}): Record<string, GgufValue> {
  return {
    'general.architecture': 'llama', // our GGUF converter writes Mistral as llama too
    'general.type': 'adapter',
    ...(opts.name ? { 'general.name': opts.name } : {}),
    'general.file_type': ggufValue.u32(FILE_TYPE[opts.type ?? 'F32']),
    'general.quantization_version': ggufValue.u32(2),
    ...(opts.baseRepo
      ? {
          'general.base_model.count': ggufValue.u32(1),
          'general.base_model.0.name': opts.baseRepo,
          'general.base_model.0.repo_url': `https://huggingface.co/${opts.baseRepo}`,
        }
      : {}),
    'adapter.type': 'lora',
    'adapter.lora.alpha': ggufValue.f32(ggufLoraAlpha(adapter)),
  };
}

/** lora_a and lora_b of every adapted weight, by layer, in the targets' order. */
export function ggufLoraTensors(adapter: HostAdapter, opts: GgufLoraOptions = {}): GgufTensorInput[] {
  const { spec, config } = adapter;
  const type = opts.type ?? 'F32';
  const r = config.rank;
  const tensors: GgufTensorInput[] = [];
  for (let layer = 0; layer < spec.numLayers; layer++) {
    for (const target of config.targets) {
      const pair = adapterPair(adapter, layer, target);
      if (!pair) continue;
      const hfName = WEIGHT_NAMES.linear(layer, target);
      const name = ggufNameOfHfTensor(hfName);
      if (!name) throw new Error(`GGUF LoRA: no GGUF name for ${hfName}`);
      const inFeatures = pair.a.length / r;
      const out = pair.b.length / r;
      const heads = target === 'q_proj' ? spec.numHeads : target === 'k_proj' ? spec.numKvHeads : undefined;
      const b = heads === undefined ? pair.b : permuteQkRows(pair.b, out, r, heads);
      tensors.push({ name: `${name}.lora_a`, type, shape: [inFeatures, r], data: quantize(type, pair.a) });
      tensors.push({ name: `${name}.lora_b`, type, shape: [r, out], data: quantize(type, b) });
    }
  }
  return tensors;
}

/** The adapter's GGUF file, in memory (an adapter is small). */
export function ggufLoraBytes(adapter: HostAdapter, opts: GgufLoraOptions = {}): Uint8Array {
  return writeGguf({ metadata: ggufLoraMetadata(adapter, opts), tensors: ggufLoraTensors(adapter, opts) });
}

/** Writes the adapter's GGUF file to `file` and closes it. */
export async function exportGgufLora(adapter: HostAdapter, file: FileSink, opts: GgufLoraOptions = {}): Promise<void> {
  await file.write(ggufLoraBytes(adapter, opts));
  await file.close();
}
