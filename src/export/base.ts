// The base model an export is written from, and the files every exported model folder has beside its weights.
import type { ModelSpec } from '../engine/spec';
import { hfConfigJson } from '../model/config';
import type { TokenizerFiles } from '../model/tokenizer';
import { type FolderSink, writeFile } from './sink';

export interface BaseSource {
  spec: ModelSpec;
  /** The checkpoint's config.json, when it has one (GGUF files and the embedded model may not). */
  config?: Record<string, unknown>;
  /** The model's Hub repo ("meta-llama/Llama-3.2-1B"), when known. */
  repo?: string;
  /** The repo holds the GGUF file the model came from: transformers and PEFT cannot load it as a base model. */
  repoHoldsGguf?: boolean;
  tokenizer?: TokenizerFiles;
  /** A base weight by HF name: f32, row-major in HF layout (q/k rows in HF order), dequantized if need be. */
  tensor(hfName: string): Promise<Float32Array>;
}

/** The repo transformers and PEFT load the base model from, when there is one. */
export function transformersRepo(base: Pick<BaseSource, 'repo' | 'repoHoldsGguf'>): string | undefined {
  return base.repoHoldsGguf ? undefined : base.repo;
}

export type TorchDtype = 'float32' | 'float16' | 'bfloat16';

/**
 * config.json for an exported model: the checkpoint's own when it has one, else the one its spec implies. Both
 * spellings of the RoPE settings are kept (transformers 5's rope_parameters and the older rope_theta and
 * rope_scaling), so that every transformers version and transformers.js read them.
 */
export function exportConfigJson(base: BaseSource, dtype: TorchDtype): Record<string, unknown> {
  const config: Record<string, unknown> = { ...(base.config ?? hfConfigJson(base.spec)) };
  const { spec } = base;
  config.dtype = dtype;
  config.torch_dtype = dtype;
  config.rope_theta = spec.ropeTheta;
  const scaling = spec.ropeScaling;
  config.rope_scaling =
    scaling === null
      ? null
      : scaling.type === 'linear'
        ? { rope_type: 'linear', type: 'linear', factor: scaling.factor }
        : {
            rope_type: 'llama3', factor: scaling.factor, low_freq_factor: scaling.lowFreqFactor,
            high_freq_factor: scaling.highFreqFactor, original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
          };
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function generationConfigJson(spec: ModelSpec): Record<string, unknown> {
  return {
    ...(spec.bosTokenId !== null ? { bos_token_id: spec.bosTokenId } : {}),
    ...(spec.eosTokenId !== null ? { eos_token_id: spec.eosTokenId } : {}),
    do_sample: false,
  };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** config.json, generation_config.json and, when the model has them, tokenizer.json and tokenizer_config.json. */
export async function writeModelFiles(base: BaseSource, folder: FolderSink, dtype: TorchDtype, extraConfig: Record<string, unknown> = {}): Promise<void> {
  await writeFile(folder, 'config.json', json({ ...exportConfigJson(base, dtype), ...extraConfig }));
  await writeFile(folder, 'generation_config.json', json(generationConfigJson(base.spec)));
  if (base.tokenizer) {
    await writeFile(folder, 'tokenizer.json', json(base.tokenizer.tokenizer));
    await writeFile(folder, 'tokenizer_config.json', json(base.tokenizer.config));
  }
}
