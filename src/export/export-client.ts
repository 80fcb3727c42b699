// The page's side of the export worker.
import { type Remote, proxy, wrap } from 'comlink';
import type { Download, ExportRequest, ExportWorkerApi } from './export-worker';

export type { Download, ExportRequest };

export interface ExportClient {
  /** Writes into `folder` (resolves to null), or builds the export in memory and resolves to the download. */
  exportRun(request: ExportRequest, folder: FileSystemDirectoryHandle | null, onProgress: (done: number, total: number) => void): Promise<Download | null>;
  dispose(): void;
}

export function createExportClient(): ExportClient {
  const worker = new Worker(new URL('./export-worker.ts', import.meta.url), { type: 'module', name: 'manyicl-export' });
  const api: Remote<ExportWorkerApi> = wrap(worker);
  const appBaseUrl = new URL(import.meta.env.BASE_URL, location.href).href;
  return {
    exportRun: (request, folder, onProgress) => api.exportRun(request, folder, appBaseUrl, proxy(onProgress)),
    dispose: () => worker.terminate(),
  };
}
