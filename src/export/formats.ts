// Every export format behind one call, for the app and for `npm run export`.
import type { HostAdapter } from './adapter';
import type { BaseSource } from './base';
import { exportOnnx } from './onnx';
import { peftFilesOf } from './peft';
import { type FolderSink, writeFile } from './sink';

export const EXPORT_FORMATS = ['peft', 'gguf-lora', 'merged-safetensors', 'merged-gguf', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_DTYPES = ['f32', 'f16', 'bf16'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

export const FORMAT_LABELS: Record<ExportFormat, string> = {
  peft: 'PEFT adapter (Hugging Face)',
  'gguf-lora': 'GGUF LoRA (llama.cpp, Ollama, LM Studio)',
  'merged-safetensors': 'Merged model, safetensors',
  'merged-gguf': 'Merged model, GGUF',
  onnx: 'ONNX (transformers.js, onnxruntime)',
};

/** Formats written as one file (the CLI's --out is that file); the others are folders. */
export function isSingleFile(format: ExportFormat): boolean {
  return format === 'gguf-lora' || format === 'merged-gguf';
}

/** Formats that hold only an adapter: a full-parameter run has none. */
export function needsAdapter(format: ExportFormat): boolean {
  return format === 'peft' || format === 'gguf-lora';
}

export interface ExportOptions {
  /** Default f32. */
  dtype?: ExportDtype;
  /** The file written by a single-file format (default adapter.gguf / model.gguf). */
  fileName?: string;
  /** README.md of a PEFT export. */
  modelCard?: string;
  onProgress?(done: number, total: number): void;
}

export function defaultFileName(format: ExportFormat): string {
  return format === 'gguf-lora' ? 'adapter.gguf' : 'model.gguf';
}

export async function exportModel(format: ExportFormat, base: BaseSource, adapter: HostAdapter | null, folder: FolderSink, options: ExportOptions = {}): Promise<void> {
  if (needsAdapter(format) && !adapter) throw new Error(`${format} holds a LoRA adapter, and there is none (a full-parameter run): export it merged instead`);
  switch (format) {
    case 'peft': {
      const files = peftFilesOf(adapter as HostAdapter, base.repo);
      for (const [name, content] of Object.entries(files)) await writeFile(folder, name, content);
      if (options.modelCard) await writeFile(folder, 'README.md', options.modelCard);
      options.onProgress?.(1, 1);
      return;
    }
    case 'onnx':
      // Always both graphs: model.onnx (f32) and model_fp16.onnx (f16 weights, f32 compute), as transformers.js
      // picks them by its dtype option.
      if (options.dtype && options.dtype !== 'f32') throw new Error(`an ONNX export holds model.onnx (f32) and model_fp16.onnx (f16 weights) both: --dtype ${options.dtype} does not apply`);
      await exportOnnx(base, adapter, folder, { fp16: true, externalData: 'auto', onProgress: options.onProgress });
      return;
    default:
      throw new Error(`export format ${format} is not available`);
  }
}
