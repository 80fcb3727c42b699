// Every export format behind one call, for the app and for `npm run export`.
import type { HostAdapter } from './adapter';
import { type BaseSource, transformersRepo } from './base';
import { exportGgufLora } from './gguf-lora';
import { exportMergedGguf, exportMergedSafetensors } from './merged';
import { exportOnnx } from './onnx';
import { peftFilesOf } from './peft';
import { type FolderSink, writeFile } from './sink';

export const EXPORT_FORMATS = ['peft', 'gguf-lora', 'merged-safetensors', 'merged-gguf', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_DTYPES = ['f32', 'f16', 'bf16'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];
/** GGML block types a merged GGUF can be quantized to, instead of a float dtype. */
export const EXPORT_QUANTS = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;
export type ExportQuant = (typeof EXPORT_QUANTS)[number];

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

export type ExportPrecision = ExportDtype | ExportQuant;

/** The precisions a format is written in, the default first. */
export function precisionsOf(format: ExportFormat): ExportPrecision[] {
  switch (format) {
    case 'peft':
    case 'onnx':
      return ['f32'];
    case 'gguf-lora':
      return ['f32', 'f16'];
    case 'merged-safetensors':
      return ['f32', 'f16', 'bf16'];
    case 'merged-gguf':
      return ['f32', 'f16', ...EXPORT_QUANTS];
  }
}

/** ExportOptions for a precision: a float dtype, or a GGML quantization. */
export function precisionOptions(precision: ExportPrecision): Pick<ExportOptions, 'dtype' | 'quant'> {
  return (EXPORT_QUANTS as readonly string[]).includes(precision) ? { quant: precision as ExportQuant } : { dtype: precision as ExportDtype };
}

export interface ExportOptions {
  /** Default f32. */
  dtype?: ExportDtype;
  /** merged-gguf only: quantize the matrices to this GGML type (norms stay F32). */
  quant?: ExportQuant;
  /** The file written by a single-file format (default adapter.gguf / model.gguf). */
  fileName?: string;
  /** README.md of a PEFT export. */
  modelCard?: string;
  onProgress?(done: number, total: number): void;
}

export function defaultFileName(format: ExportFormat): string {
  return format === 'gguf-lora' ? 'adapter.gguf' : 'model.gguf';
}

const upper = (dtype: ExportDtype) => ({ f32: 'F32', f16: 'F16', bf16: 'BF16' } as const)[dtype];

export async function exportModel(format: ExportFormat, base: BaseSource, adapter: HostAdapter | null, folder: FolderSink, options: ExportOptions = {}): Promise<void> {
  if (needsAdapter(format) && !adapter) throw new Error(`${format} holds a LoRA adapter, and there is none (a full-parameter run): export it merged instead`);
  if (options.quant && format !== 'merged-gguf') throw new Error(`quantization (${options.quant}) applies to merged-gguf only`);
  const dtype = options.dtype ?? 'f32';
  switch (format) {
    case 'peft': {
      const files = peftFilesOf(adapter as HostAdapter, transformersRepo(base));
      for (const [name, content] of Object.entries(files)) await writeFile(folder, name, content);
      if (options.modelCard) await writeFile(folder, 'README.md', options.modelCard);
      options.onProgress?.(1, 1);
      return;
    }
    case 'gguf-lora': {
      if (dtype === 'bf16') throw new Error('a GGUF LoRA is F32 or F16 (llama.cpp adapters): --dtype bf16 does not apply');
      const type = dtype === 'f16' ? 'F16' : 'F32';
      await exportGgufLora(adapter as HostAdapter, await folder.file(options.fileName ?? defaultFileName(format)), { type, baseRepo: base.repo });
      options.onProgress?.(1, 1);
      return;
    }
    case 'merged-safetensors':
      await exportMergedSafetensors(base, adapter, folder, { dtype: upper(dtype), onProgress: options.onProgress });
      return;
    case 'merged-gguf': {
      if (dtype === 'bf16') throw new Error('merged GGUF is F32, F16 or a quantized type (--quant): --dtype bf16 is not written');
      const type = options.quant ?? (dtype === 'f16' ? 'F16' : 'F32');
      await exportMergedGguf(base, adapter, await folder.file(options.fileName ?? defaultFileName(format)), { type, onProgress: options.onProgress });
      return;
    }
    case 'onnx':
      // Always both graphs: model.onnx (f32) and model_fp16.onnx (f16 weights, f32 compute), as transformers.js
      // picks them by its dtype option.
      if (dtype !== 'f32') throw new Error(`an ONNX export holds model.onnx (f32) and model_fp16.onnx (f16 weights) both: --dtype ${dtype} does not apply`);
      await exportOnnx(base, adapter, folder, { fp16: true, externalData: 'auto', onProgress: options.onProgress });
      return;
    default:
      throw new Error(`unknown export format ${format satisfies never}`);
  }
}
