// Greedy generation on a case folder (the format `npm run reference` takes), for `npm run generate`.
import type { Tokenizer } from '../data/tokenizer';
import { Generator } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import type { Gpu } from '../gpu/gpu';
import { tokenizerJsonFromGguf } from '../model/gguf/tokenizer';
import { loadTokenizerFiles } from '../model/load';
import { loadTokenizer } from '../model/tokenizer';
import { caseModel, caseTensors, loadCaseAdapter, loadCaseBase } from './case';

export interface CaseGeneration {
  /** The prompt as token ids, or as text for the folder's tokenizer (BOS is put first when the model has one). */
  prompt: { ids: number[] } | { text: string };
  maxNewTokens: number;
  /** Apply the folder's adapter (adapter_config.json + adapter_model.safetensors) when it has one. */
  adapter: boolean;
}

/** Exactly maxNewTokens greedy tokens (EOS does not stop it), and whether an adapter was applied. */
export async function generateForCase(
  gpu: Gpu, read: (name: string) => Promise<Uint8Array>, options: CaseGeneration,
): Promise<{ tokens: number[]; adapter: boolean }> {
  const has = (name: string) => read(name).then(() => true, () => false);
  const base = await loadCaseBase(read);
  let prompt: number[];
  if ('ids' in options.prompt) {
    prompt = options.prompt.ids;
  } else {
    let tokenizer: Tokenizer;
    if (await has('tokenizer.json')) tokenizer = await loadTokenizerFiles(read);
    else if (base.gguf && 'tokenizer.ggml.model' in base.gguf.header.metadata) tokenizer = loadTokenizer(tokenizerJsonFromGguf(base.gguf.header.metadata));
    else throw new Error('the folder has no tokenizer.json (nor a GGUF with a tokenizer): give token ids');
    prompt = [...(base.spec.bosTokenId !== null ? [base.spec.bosTokenId] : []), ...tokenizer.encode(options.prompt.text)];
  }
  const model = caseModel(gpu, base);
  let lora: LoraAdapter | null = null;
  try {
    if (options.adapter && (await has('adapter_config.json'))) {
      const adapter = await loadCaseAdapter(read, base.spec);
      lora = new LoraAdapter(gpu, base.spec, adapter.config);
      lora.load(caseTensors({ weights: base.weights, lora: adapter }).lora);
    }
    const { tokens } = await new Generator(model, lora).generate([prompt], { maxNewTokens: options.maxNewTokens });
    return { tokens: tokens[0], adapter: lora !== null };
  } finally {
    lora?.destroy();
    model.destroy();
  }
}
