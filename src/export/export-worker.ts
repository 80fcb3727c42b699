// The export worker: writes a run's export off the UI thread (merging and encoding a model takes a while), to a
// folder the user picked (streamed, any size) or in memory for a download (a single file, or a zip).
import { expose, transfer } from 'comlink';
import { tensorBytes } from '../engine/ggml';
import { baseWeightShapes } from '../engine/spec';
import type { RunRecord } from '../train/protocol';
import { type ExportFormat, type ExportOptions, defaultFileName, isSingleFile } from './formats';
import type { ModelCardInfo } from './peft';
import { zipFiles } from './peft';
import { exportRun, runBaseSource } from './run-export';
import { directoryFolder, memoryFolder } from './sink';

/** Downloads are built in memory: past this, the user is asked to pick a folder instead. */
const DOWNLOAD_LIMIT_BYTES = 1.5 * 1024 ** 3;

export interface ExportRequest {
  run: RunRecord;
  format: ExportFormat;
  options: Omit<ExportOptions, 'onProgress' | 'modelCard'>;
  evaluation?: ModelCardInfo['evaluation'];
}

export interface Download {
  fileName: string;
  bytes: Uint8Array;
}

const slug = (name: string) => name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';

const api = {
  async exportRun(
    request: ExportRequest, folder: FileSystemDirectoryHandle | null, appBaseUrl: string, onProgress: (done: number, total: number) => void,
  ): Promise<Download | null> {
    const { run, format, options } = request;
    const fileName = options.fileName ?? defaultFileName(format);
    if (folder) {
      await exportRun(run, format, { ...options, fileName, onProgress }, directoryFolder(folder), appBaseUrl, request.evaluation);
      return null;
    }
    const tooLarge = (bytes: number) =>
      `this export is about ${(bytes / 1024 ** 3).toFixed(1)} GiB, too large to build in memory for a download: use "Save to folder" (Chrome, Edge)`;
    if (format !== 'peft' && format !== 'gguf-lora') {
      const { spec } = await runBaseSource(run.config.model, appBaseUrl);
      const values = [...baseWeightShapes(spec).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
      // ONNX holds an f32 and an f16 graph; a quantized GGUF its blocks.
      const bytes = format === 'onnx' ? values * 6 : options.quant ? tensorBytes(options.quant, Math.ceil(values / 256) * 256) : values * (options.dtype === 'f16' || options.dtype === 'bf16' ? 2 : 4);
      if (bytes > DOWNLOAD_LIMIT_BYTES) throw new Error(tooLarge(bytes));
    }
    const memory = memoryFolder(DOWNLOAD_LIMIT_BYTES, tooLarge(DOWNLOAD_LIMIT_BYTES));
    await exportRun(run, format, { ...options, fileName, onProgress }, memory, appBaseUrl, request.evaluation);
    const download = isSingleFile(format)
      ? { fileName: `${slug(run.name)}-${fileName}`, bytes: memory.files.get(fileName) as Uint8Array }
      : { fileName: `${slug(run.name)}-${format}.zip`, bytes: zipFiles(memory.files) };
    return transfer(download, [download.bytes.buffer]);
  },
};

export type ExportWorkerApi = typeof api;

expose(api);
