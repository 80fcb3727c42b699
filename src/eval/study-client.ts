// The page's side of the study worker (the study, and the playground's generations).
import { type Remote, proxy, wrap } from 'comlink';
import type { RunConfig } from '../train/run-config';
import type { StudyConfig, StudyEvent, StudyUnit } from './study';
import type { PlaygroundOutput, PlaygroundRequest, PlaygroundResult, StudyWorkerApi } from './study-worker';

export type { PlaygroundOutput, PlaygroundRequest, PlaygroundResult };

export interface StudyClient {
  /** Runs the study, skipping the units given; resolves when it is done or has failed. */
  run(config: StudyConfig, completed: StudyUnit[], onEvent: (event: StudyEvent) => void): Promise<void>;
  playground(request: PlaygroundRequest): Promise<PlaygroundResult>;
  /** A run's cluster recipe into `folder` (resolves to null), or in memory as a zip to download. */
  recipe(run: { id: string; name: string; config: RunConfig; importedFrom?: string }, folder: FileSystemDirectoryHandle | null, onProgress: (done: number, total: number) => void): Promise<{ fileName: string; bytes: Uint8Array } | null>;
  dispose(): void;
}

export function createStudyClient(): StudyClient {
  const worker = new Worker(new URL('./study-worker.ts', import.meta.url), { type: 'module', name: 'manyicl-study' });
  const api: Remote<StudyWorkerApi> = wrap(worker);
  const appBaseUrl = new URL(import.meta.env.BASE_URL, location.href).href;
  return {
    run: (config, completed, onEvent) => api.run(config, completed, appBaseUrl, proxy(onEvent)),
    playground: (request) => api.playground(request, appBaseUrl),
    recipe: (run, folder, onProgress) => api.recipe(run, folder, appBaseUrl, proxy(onProgress)),
    dispose: () => worker.terminate(),
  };
}
