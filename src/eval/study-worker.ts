// The study worker: runs one ManyICL study off the UI thread on its own GPU device, unit by unit, handing each
// finished unit to the page (which keeps it in IndexedDB) so that a reload or a crash resumes where it stopped.
import { expose } from 'comlink';
import { Gpu } from '../gpu/gpu';
import { loadHostBaseModel } from '../train/base-model';
import { errorMessage } from '../util/errors';
import { type StudyConfig, type StudyEvent, type StudyUnit, runStudy } from './study';

let gpu: Promise<Gpu> | null = null;
let busy = false;

const api = {
  async run(config: StudyConfig, completed: StudyUnit[], appBaseUrl: string, onEvent: (event: StudyEvent) => void): Promise<void> {
    if (busy) throw new Error('a study is already running');
    busy = true;
    try {
      const { model } = config.run;
      if (model.source === 'cached') throw new Error('the study runs on the embedded model or a full-parameter run of it; pick one of those');
      onEvent({ type: 'log', line: 'loading the model' });
      const base = await loadHostBaseModel(model, appBaseUrl, () => {});
      gpu ??= Gpu.create();
      const device = await gpu;
      await runStudy(device, base, config, {
        completed: new Map(completed.map((unit) => [unit.key, unit])),
        onUnit: (unit) => onEvent({ type: 'unit', unit }),
        onProgress: (done, total) => onEvent({ type: 'progress', done, total }),
        log: (line) => onEvent({ type: 'log', line }),
      });
      onEvent({ type: 'status', status: 'done' });
    } catch (error) {
      onEvent({ type: 'status', status: 'error', message: errorMessage(error) });
    } finally {
      busy = false;
    }
  },
};

export type StudyWorkerApi = typeof api;

expose(api);
