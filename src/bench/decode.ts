// The generation benchmark: a model of a named shape with random weights and a LoRA adapter on every projection,
// random prompts, then greedy decoding with the KV cache; prefill and decode tokens/s.
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { LORA_TARGETS } from '../engine/spec';
import { Model } from '../engine/weights';
import type { Gpu } from '../gpu/gpu';
import { mulberry32 } from '../util/random';
import { MODEL_SHAPES } from './shapes';

export interface DecodeBenchOptions {
  shape: string;
  /** Prompt tokens per sequence. */
  prompt: number;
  /** New tokens per sequence. */
  newTokens: number;
  batch: number;
  /** LoRA rank on every projection; 0 decodes the base model alone. */
  rank: number;
}

export interface DecodeBenchResult {
  shape: string;
  batch: number;
  prompt: number;
  new_tokens: number;
  rank: number;
  adapter: string;
  prefill_ms: number;
  prefill_tokens_per_s: number;
  decode_ms_per_token: number;
  decode_tokens_per_s: number;
  peak_bytes: number;
}

export async function runDecodeBench(gpu: Gpu, opts: DecodeBenchOptions, log: (line: string) => void = () => {}): Promise<DecodeBenchResult> {
  const spec = MODEL_SHAPES[opts.shape];
  if (!spec) throw new Error(`unknown shape ${opts.shape}; known: ${Object.keys(MODEL_SHAPES).join(', ')}`);
  if (opts.newTokens < 2) throw new Error('--new-tokens must be at least 2: one from the prefill, the rest decoded');
  const model = Model.random(gpu, spec, 1);
  const lora = opts.rank > 0 ? new LoraAdapter(gpu, spec, { rank: opts.rank, alpha: 2 * opts.rank, targets: [...LORA_TARGETS] }) : null;
  lora?.initialize(2);
  const random = mulberry32(3);
  const prompts = Array.from({ length: opts.batch }, () => Array.from({ length: opts.prompt }, () => Math.floor(random() * spec.vocabSize)));
  try {
    const generator = new Generator(model, lora);
    log('warm-up (compiles the pipelines)');
    await generator.generate(prompts.map((p) => p.slice(0, Math.min(8, p.length))), { maxNewTokens: 2 });
    const run = await generator.generate(prompts, { maxNewTokens: opts.newTokens });
    const decoded = opts.batch * run.steps;
    return {
      shape: opts.shape, batch: opts.batch, prompt: opts.prompt, new_tokens: opts.newTokens, rank: opts.rank,
      adapter: `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`.trim(),
      prefill_ms: run.prefillMs,
      prefill_tokens_per_s: (opts.batch * opts.prompt) / (run.prefillMs / 1000),
      decode_ms_per_token: run.decodeMs / run.steps,
      decode_tokens_per_s: decoded / (run.decodeMs / 1000),
      peak_bytes: gpu.peakBytes,
    };
  } finally {
    lora?.destroy();
    model.destroy();
  }
}
