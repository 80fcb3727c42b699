// Greedy continuation with an exported ONNX model (src/export/onnx.ts) in onnxruntime-web: the folder's files
// in memory, WebGPU where the browser has it, else WebAssembly, and the KV-cache loop transformers.js runs
// (the whole mask fed every step, positions counted on, the cache never trimmed).
import * as ort from 'onnxruntime-web';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import { argmax } from '../engine/generate';

// The bundled runtime would look for its .wasm beside the (pre-bundled) module; Vite serves it from here.
ort.env.wasm.wasmPaths = { wasm: wasmUrl };

export interface OnnxGenerateOptions {
  /** Which graph of the folder: model.onnx (f32, the default) or model_fp16.onnx. */
  file?: 'model.onnx' | 'model_fp16.onnx';
  /** Default: ['webgpu', 'wasm'] when navigator.gpu exists, else ['wasm']. */
  executionProviders?: string[];
}

export interface OnnxGenerateResult {
  /** The new tokens, the stop token included when one ended the continuation. */
  tokens: number[];
  /** Wall time of the whole continuation, and of its first step (the prompt). */
  ms: number;
  prefillMs: number;
}

export interface OnnxGenerator {
  readonly executionProviders: readonly string[];
  /** Greedy: the first token of highest logit, maxNewTokens of them unless a stop token comes first. */
  generate(prompt: readonly number[], maxNewTokens: number, stopTokens?: readonly number[]): Promise<OnnxGenerateResult>;
  release(): Promise<void>;
}

/** A session over the exported folder's files, by path in the folder ("onnx/model.onnx", "config.json", ...). */
export async function onnxGenerator(files: ReadonlyMap<string, Uint8Array>, options: OnnxGenerateOptions = {}): Promise<OnnxGenerator> {
  const file = options.file ?? 'model.onnx';
  const graph = files.get(`onnx/${file}`);
  if (!graph) throw new Error(`the exported folder has no onnx/${file}`);
  const data = files.get(`onnx/${file}_data`);
  const executionProviders = options.executionProviders ?? (typeof navigator !== 'undefined' && 'gpu' in navigator ? ['webgpu', 'wasm'] : ['wasm']);
  const session = await ort.InferenceSession.create(graph, {
    executionProviders,
    ...(data ? { externalData: [{ path: `${file}_data`, data }] } : {}),
  });
  // The cache inputs as the graph declares them: batch_size is 1 here, the cache length 0 at the start.
  const cache = session.inputMetadata.flatMap((m) =>
    m.isTensor && m.name.startsWith('past_key_values.')
      ? [{ name: m.name, present: m.name.replace('past_key_values.', 'present.'), shape: m.shape.map((d) => (typeof d === 'number' ? d : d === 'batch_size' ? 1 : 0)) }]
      : [],
  );
  const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);

  return {
    executionProviders,
    async generate(prompt, maxNewTokens, stopTokens = []) {
      if (prompt.length === 0) throw new Error('generate: the prompt needs at least one token');
      const start = performance.now();
      const tokens: number[] = [];
      let prefillMs = 0;
      let past: Record<string, ort.Tensor> = Object.fromEntries(cache.map((c) => [c.name, new ort.Tensor('float32', new Float32Array(0), c.shape)]));
      let ids = [...prompt];
      let length = 0;
      while (tokens.length < maxNewTokens) {
        const positions = ids.map((_, i) => length + i);
        length += ids.length;
        const out = await session.run({ input_ids: int64(ids), attention_mask: int64(new Array<number>(length).fill(1)), position_ids: int64(positions), ...past });
        const logits = out.logits;
        if (logits.type !== 'float32') throw new Error(`logits of type ${logits.type}: only float32 is read`);
        const vocab = logits.dims[2];
        const next = argmax(logits.data as Float32Array, (ids.length - 1) * vocab, ids.length * vocab);
        logits.dispose();
        for (const t of Object.values(past)) t.dispose();
        past = Object.fromEntries(cache.map((c) => [c.name, out[c.present]]));
        if (tokens.length === 0) prefillMs = performance.now() - start;
        tokens.push(next);
        if (stopTokens.includes(next)) break;
        ids = [next];
      }
      for (const t of Object.values(past)) t.dispose();
      return { tokens, ms: performance.now() - start, prefillMs };
    },
    release: () => session.release(),
  };
}
