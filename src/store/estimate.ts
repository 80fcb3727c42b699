// How long a run will take: from the step times measured by earlier runs of the same model in this browser,
// scaled by the tokens a step trains; without one, a figure measured on a software adapter, said as such.
import type { RunRecord } from '../train/protocol';
import type { RunConfig } from '../train/run-config';

/** Tokens one optimizer step trains on: contexts per step x context length. */
export function tokensPerStep(config: Pick<RunConfig, 'batchSize' | 'gradAccumulation' | 'contextLength'>): number {
  return config.batchSize * config.gradAccumulation * config.contextLength;
}

/** Runs whose step times say something about a config: the same model (a checkpoint run counts as the embedded model) and mode. */
function modelKey(model: RunConfig['model']): string {
  return model.source === 'cached' ? `cached:${model.id}` : 'embedded';
}

export interface StepMeasurement {
  /** The run that measured it. */
  runName: string;
  /** Median time of its steps after the first (which also compiles the GPU pipelines). */
  msPerStep: number;
  tokensPerStep: number;
  steps: number;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The newest run of the same model and mode with at least two measured steps, and its median step time. */
export function latestMeasurement(config: RunConfig, runs: readonly RunRecord[]): StepMeasurement | null {
  const candidates = runs
    .filter((r) => modelKey(r.config.model) === modelKey(config.model) && r.config.mode === config.mode && r.metrics.length >= 2)
    .sort((a, b) => b.createdAt - a.createdAt);
  for (const run of candidates) {
    const times = run.metrics.slice(1).map((m) => m.stepMs).filter((ms) => Number.isFinite(ms) && ms > 0);
    if (times.length === 0) continue;
    return { runName: run.name, msPerStep: median(times), tokensPerStep: tokensPerStep(run.config), steps: times.length };
  }
  return null;
}

/**
 * What the embedded model's steps took on SwiftShader (Chromium's CPU WebGPU) on this project's 2-core test
 * machine, shared with other jobs, in ms per trained token: e2e/setup.spec.ts's quick demo (one 64-token context
 * per step) measured a median of 12.7 s per step. Used only until a run here has measured this browser's own figure.
 */
export const SOFTWARE_EMBEDDED_MS_PER_TOKEN = 200;

export interface DurationEstimate {
  /** null when there is nothing to base an estimate on. */
  ms: number | null;
  /** What the estimate is based on, in words. */
  basis: string;
}

/**
 * The time a run of `config` takes, scaled linearly by tokens per step from a measured run of the same model
 * and mode (attention grows faster than linearly with the context, so longer contexts take somewhat longer).
 */
export function estimateDuration(config: RunConfig, runs: readonly RunRecord[], adapter: { software: boolean } | null): DurationEstimate {
  const tokens = tokensPerStep(config);
  const measured = latestMeasurement(config, runs);
  if (measured) {
    const ms = config.steps * measured.msPerStep * (tokens / measured.tokensPerStep);
    return {
      ms,
      basis: `from run "${measured.runName}": ${Math.round(measured.msPerStep)} ms per step of ${measured.tokensPerStep} tokens (median of ${measured.steps} steps), scaled to ${tokens} tokens per step`,
    };
  }
  if (adapter?.software && config.model.source !== 'cached') {
    return {
      ms: config.steps * tokens * SOFTWARE_EMBEDDED_MS_PER_TOKEN,
      basis: `no run of this model has trained in this browser yet: from the ${SOFTWARE_EMBEDDED_MS_PER_TOKEN} ms per token the embedded model took on a software adapter (SwiftShader) on a 2-core machine`,
    };
  }
  return { ms: null, basis: 'no run of this model has trained in this browser yet: the first steps of a run measure it' };
}

/** "about 40 s", "about 12 min", "about 3.5 h". */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `about ${Math.max(1, Math.round(s))} s`;
  const min = s / 60;
  if (min < 90) return `about ${Math.round(min)} min`;
  const h = min / 60;
  return `about ${h < 10 ? h.toFixed(1) : Math.round(h)} h`;
}
