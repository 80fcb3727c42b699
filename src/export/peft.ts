// A LoRA adapter written as PEFT saves it: adapter_model.safetensors + adapter_config.json, loadable with
// PeftModel.from_pretrained.
import type { LoraAdapter } from '../engine/lora';
import { adapterConfigJson } from '../engine/peft';
import { writeSafetensors } from '../model/safetensors';

export interface PeftFiles {
  'adapter_model.safetensors': Uint8Array;
  'adapter_config.json': string;
}

export async function peftFiles(lora: LoraAdapter, baseModel?: string): Promise<PeftFiles> {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const params = await lora.read('params');
  for (const e of lora.entries) tensors[e.key] = { shape: e.shape, data: params.get(e.key)! };
  return {
    'adapter_model.safetensors': writeSafetensors(tensors, { format: 'pt' }),
    'adapter_config.json': JSON.stringify(adapterConfigJson(lora.config, baseModel), null, 2),
  };
}
