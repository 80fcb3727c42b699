// Exports of runs (PEFT, GGUF LoRA, merged models, ONNX), written by the export worker to a download or a folder
// the user picks, and PEFT adapters imported as runs that start from them.
import { create } from 'zustand';
import { studyMarkdown, summarize } from '../eval/study';
import { flatOfHostAdapter } from '../export/adapter';
import { type Download, type ExportClient, createExportClient } from '../export/export-client';
import { EXPORT_FORMATS, type ExportFormat, type ExportPrecision, FORMAT_LABELS, needsAdapter, precisionOptions, precisionsOf } from '../export/formats';
import { type AdapterSource, importAdapter } from '../export/import-adapter';
import type { ModelCardInfo } from '../export/peft';
import { runBaseSource } from '../export/run-export';
import { type Checkpoint, indexedDbCheckpoints } from '../train/checkpoints';
import { saveInitialAdapter } from '../train/initial-adapter';
import type { RunRecord } from '../train/protocol';
import type { RunConfig } from '../train/run-config';
import type { ModelSpec } from '../engine/spec';
import { errorMessage } from '../util/errors';
import { selectRunConfig, useRunSetupStore } from './run-setup';
import { useRunsStore } from './runs';
import { type StudyRecord, studyWorkerClient, useStudyStore } from './study';

export { EXPORT_FORMATS, FORMAT_LABELS, precisionsOf, type ExportFormat, type ExportPrecision };

export interface ExportsDeps {
  createClient(): ExportClient;
  findRun(id: string): RunRecord | undefined;
  /** The current study, for the evaluation table of a model card. */
  study(): StudyRecord | null;
  setupConfig(): RunConfig;
  /** The spec of a run's base model (headers only for cached models). */
  specOf(model: RunConfig['model']): Promise<ModelSpec>;
  createRun(config: RunConfig, name: string, imported: { from: string }): string;
  deleteRun(id: string): Promise<void>;
  saveCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** Keeps an imported adapter apart from the run's checkpoint, for the run's cluster recipe. */
  saveInitialAdapter(runId: string, params: Float32Array): Promise<void>;
  /** The run's cluster recipe (the study worker: it computes our engine's first-step loss on the GPU). */
  recipe(run: RunRecord, folder: FileSystemDirectoryHandle | null, onProgress: (done: number, total: number) => void): Promise<Download | null>;
  /** The File System Access API's folder picker, where the browser has it. */
  pickFolder: (() => Promise<FileSystemDirectoryHandle>) | null;
  download(download: Download): void;
}

export interface ExportsState {
  format: ExportFormat;
  /** One of precisionsOf(format). */
  precision: ExportPrecision;
  /** The export under way. */
  busy: { runId: string; label: string } | null;
  progress: { done: number; total: number } | null;
  message: string | null;
  error: string | null;
  importing: boolean;
  importError: string | null;
  canPickFolder: boolean;

  /** Choosing a format resets the precision to that format's default when it does not have the current one. */
  set(patch: Partial<Pick<ExportsState, 'format' | 'precision'>>): void;
  /** Exports a run as a download, or streamed into a folder the user picks. */
  exportRun(runId: string, destination: 'download' | 'folder'): Promise<void>;
  /** The run as a TRL + accelerate recipe for a GPU cluster (LoRA runs). */
  exportRecipe(runId: string, destination: 'download' | 'folder'): Promise<void>;
  /** Reads a PEFT adapter for the setup's base model and adds a run that starts from it. */
  importAdapter(source: AdapterSource): Promise<string | null>;
}

/** The study's table for a run's model card, when the study trained on the same model and tasks. */
export function studyEvaluation(study: StudyRecord | null, run: RunRecord): ModelCardInfo['evaluation'] {
  if (!study || study.units.length === 0) return undefined;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(study.config.run.model, run.config.model) || !same(study.config.run.tasks, run.config.tasks)) return undefined;
  return {
    heading: 'Evaluation (the ManyICL study on the same base model and tasks)',
    markdown: studyMarkdown(summarize(study.units)),
  };
}

export function createExportsStore(deps: ExportsDeps) {
  let client: ExportClient | null = null;
  return create<ExportsState>()((set, get) => {
    /** Runs one export to a download or a picked folder, with progress, and reports how it went. */
    const exporting = async (
      run: RunRecord, label: string, destination: 'download' | 'folder',
      write: (folder: FileSystemDirectoryHandle | null, onProgress: (done: number, total: number) => void) => Promise<Download | null>,
    ) => {
      if (get().busy) return;
      let folder: FileSystemDirectoryHandle | null = null;
      if (destination === 'folder') {
        if (!deps.pickFolder) return;
        try {
          folder = await deps.pickFolder();
        } catch {
          return; // the picker was dismissed
        }
      }
      set({ busy: { runId: run.id, label }, progress: null, error: null, message: null });
      try {
        const download = await write(folder, (done, total) => set({ progress: { done, total } }));
        if (download) deps.download(download);
        set({ message: download ? `Downloaded ${download.fileName}` : `Wrote the ${label} of ${run.name} into ${folder?.name ?? 'the folder'}` });
      } catch (error) {
        set({ error: `Could not export ${run.name} (${label}): ${errorMessage(error)}` });
      } finally {
        set({ busy: null, progress: null });
      }
    };
    return {
    format: 'peft',
    precision: 'f32',
    busy: null,
    progress: null,
    message: null,
    error: null,
    importing: false,
    importError: null,
    canPickFolder: deps.pickFolder !== null,

    set: (patch) => {
      const next = { ...get(), ...patch };
      set({ ...patch, precision: precisionsOf(next.format).includes(next.precision) ? next.precision : precisionsOf(next.format)[0] });
    },

    async exportRun(runId, destination) {
      const run = deps.findRun(runId);
      const { format, precision } = get();
      if (!run) return;
      if (needsAdapter(format) && run.config.mode === 'full') {
        set({ error: `${run.name} trained every weight: it has no adapter to export as ${format}. Export it merged or as ONNX.`, message: null });
        return;
      }
      await exporting(run, FORMAT_LABELS[format], destination, async (folder, onProgress) => {
        client ??= deps.createClient();
        return client.exportRun({ run, format, options: precisionOptions(precision), evaluation: studyEvaluation(deps.study(), run) }, folder, onProgress);
      });
    },

    async exportRecipe(runId, destination) {
      const run = deps.findRun(runId);
      if (!run) return;
      if (run.config.mode !== 'lora') {
        set({ error: `${run.name} trained every weight: a cluster recipe trains a LoRA adapter. Set up a LoRA run from its config.`, message: null });
        return;
      }
      await exporting(run, 'cluster recipe', destination, (folder, onProgress) => deps.recipe(run, folder, onProgress));
    },

    async importAdapter(source) {
      if (get().importing) return null;
      set({ importing: true, importError: null, message: null });
      const setup = deps.setupConfig();
      try {
        const spec = await deps.specOf(setup.model);
        const imported = await importAdapter(source, spec);
        const { config: lora } = imported.adapter;
        const config: RunConfig = {
          ...setup,
          mode: 'lora',
          lora: { rank: lora.rank, alpha: lora.alpha, targets: lora.targets, ...(lora.useRslora ? { useRslora: true } : {}) },
        };
        const name = `${imported.name.replace(/^.*\/(?=[^/]+\/?$)/, '').replace(/\/$/, '')} (imported)`;
        const id = deps.createRun(config, name, { from: imported.name });
        const params = flatOfHostAdapter(imported.adapter);
        const zeros = new Float32Array(params.length);
        try {
          await deps.saveCheckpoint({ runId: id, step: 0, mode: 'lora', params, m: zeros, v: zeros, savedAt: Date.now() });
          await deps.saveInitialAdapter(id, params);
        } catch (error) {
          await deps.deleteRun(id);
          throw error;
        }
        const mismatch = imported.baseModel && !JSON.stringify(setup.model).includes(imported.baseModel)
          ? ` Its adapter_config.json names ${imported.baseModel} as its base model; it fits this model's shapes, but check it is the same model.`
          : '';
        set({ message: `Imported ${imported.name} as run "${name}": start it to train on, or try it in the playground.${mismatch}` });
        return id;
      } catch (error) {
        set({ importError: errorMessage(error) });
        return null;
      } finally {
        set({ importing: false });
      }
    },
    };
  });
}

function downloadFile({ fileName, bytes }: Download): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const appBaseUrl = () => new URL(import.meta.env.BASE_URL, location.href).href;

export const useExportsStore = createExportsStore({
  createClient: createExportClient,
  findRun: (id) => useRunsStore.getState().runs.find((r) => r.id === id),
  study: () => useStudyStore.getState().study,
  setupConfig: () => selectRunConfig(useRunSetupStore.getState()),
  specOf: async (model) => (await runBaseSource(model, appBaseUrl())).spec,
  createRun: (config, name, imported) => useRunsStore.getState().createRun(config, name, imported),
  deleteRun: (id) => useRunsStore.getState().deleteRun(id),
  saveCheckpoint: (checkpoint) => indexedDbCheckpoints.save(checkpoint),
  saveInitialAdapter,
  pickFolder: typeof window !== 'undefined' && 'showDirectoryPicker' in window
    ? () => (window as unknown as { showDirectoryPicker(o: object): Promise<FileSystemDirectoryHandle> }).showDirectoryPicker({ mode: 'readwrite' })
    : null,
  recipe: (run, folder, onProgress) => studyWorkerClient().recipe({ id: run.id, name: run.name, config: run.config, importedFrom: run.importedFrom }, folder, onProgress),
  download: downloadFile,
});
