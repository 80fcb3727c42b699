// The playground: one prompt, continued by the base model and by a trained run (its LoRA adapter, or its
// full-parameter weights) side by side, with the speed of each.
import type { Tokenizer } from '../data/tokenizer';
import { Generator, type SamplingOptions } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { mergeLora } from '../engine/merge';
import type { LoraConfig } from '../engine/peft';
import { Model } from '../engine/weights';
import type { Gpu } from '../gpu/gpu';
import type { HostAdapter } from '../export/adapter';
import type { BaseSource } from '../export/base';
import { exportOnnx } from '../export/onnx';
import { memoryFolder } from '../export/sink';
import type { BaseModel, HostBaseModel } from '../train/session';
import { onnxGenerator } from './onnx-generate';

export interface PlaygroundOutput {
  text: string;
  tokens: number;
  tokensPerSecond: number;
}

export interface PlaygroundOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Merge a LoRA adapter into the weights (f32) instead of running it as a branch beside them. */
  merged?: boolean;
  /** Also export the model (with the run's weights) to ONNX and continue the prompt in onnxruntime-web (greedy). */
  onnx?: boolean;
}

/** The ONNX export's continuation, and the onnxruntime-web backend that ran it. */
export interface OnnxPlaygroundOutput extends PlaygroundOutput {
  backend: string;
}

/** What the second column runs: the base with a LoRA adapter, or other (full-parameter trained) weights. */
export type Adapted = { lora: LoraConfig; params: Float32Array } | { model: HostBaseModel };

/**
 * The prompt's continuation (BOS first when the tokenizer has one), to EOS or the token limit. A base model
 * already on the GPU (from the model cache) is used as it is; merging a LoRA into it changes its weights.
 */
export async function continuePrompt(
  gpu: Gpu, base: BaseModel, adapted: Adapted | null, prompt: string, options: PlaygroundOptions,
): Promise<PlaygroundOutput> {
  const weights = adapted && 'model' in adapted ? adapted.model : base;
  const model = 'model' in weights ? weights.model : Model.fromTensors(gpu, weights.spec, weights.tensors);
  let lora: LoraAdapter | null = null;
  try {
    if (adapted && 'lora' in adapted) {
      lora = new LoraAdapter(gpu, base.spec, adapted.lora);
      if (adapted.params.length !== lora.count) throw new Error(`the adapter has ${adapted.params.length} values, its config implies ${lora.count}`);
      gpu.write(lora.params, adapted.params);
      if (options.merged) {
        await mergeLora(model, lora);
        lora.destroy();
        lora = null;
      }
    }
    const ids = promptIds(weights.tokenizer, prompt);
    const { tokens, prefillMs, decodeMs } = await new Generator(model, lora).generate([ids], {
      ...options, stopTokens: weights.tokenizer.eosId !== null ? [weights.tokenizer.eosId] : [],
    });
    const generated = tokens[0];
    return { text: weights.tokenizer.decode(generated), tokens: generated.length, tokensPerSecond: generated.length / ((prefillMs + decodeMs) / 1000) };
  } finally {
    lora?.destroy();
    if (!('model' in weights)) model.destroy();
  }
}

export function promptIds(tokenizer: Tokenizer, prompt: string): number[] {
  return [...(tokenizer.bosId !== null ? [tokenizer.bosId] : []), ...tokenizer.encode(prompt)];
}

/**
 * The prompt continued greedily by the model exported to ONNX (the adapter merged) in onnxruntime-web: the
 * independent inference path, beside our engine's.
 */
export async function continueWithOnnx(
  base: BaseSource, adapter: HostAdapter | null, tokenizer: Tokenizer, prompt: string, maxNewTokens: number,
): Promise<OnnxPlaygroundOutput> {
  const folder = memoryFolder();
  await exportOnnx(base, adapter, folder);
  const generator = await onnxGenerator(folder.files);
  try {
    const { tokens, ms } = await generator.generate(promptIds(tokenizer, prompt), maxNewTokens, tokenizer.eosId !== null ? [tokenizer.eosId] : []);
    return { text: tokenizer.decode(tokens), tokens: tokens.length, tokensPerSecond: tokens.length / (ms / 1000), backend: generator.executionProviders[0] };
  } finally {
    await generator.release();
  }
}
