import { describe, expect, test } from 'vitest';
import type { RunRecord, StepMetrics } from '../train/protocol';
import { type RunConfig, defaultRunConfig } from '../train/run-config';
import { SOFTWARE_EMBEDDED_MS_PER_TOKEN, estimateDuration, formatDuration, latestMeasurement, tokensPerStep } from './estimate';

const config = (patch: Partial<RunConfig> = {}): RunConfig => ({ ...defaultRunConfig(), ...patch });

function step(n: number, stepMs: number): StepMetrics {
  return { step: n, loss: 1, lr: 1e-3, gradNorm: 1, tokensPerSecond: 1, stepMs, gpuBytes: 0, shotLoss: [], taskLoss: {} };
}

function run(name: string, createdAt: number, runConfig: RunConfig, stepMs: number[]): RunRecord {
  return { id: name, name, createdAt, config: runConfig, status: 'done', metrics: stepMs.map((ms, i) => step(i + 1, ms)) };
}

describe('duration estimate', () => {
  test('from the newest measured run of the same model and mode, scaled by tokens per step', () => {
    const measured = run('small', 2, config({ contextLength: 64, batchSize: 1 }), [5000, 400, 500, 450]); // step 1 compiles: left out
    const older = run('older', 1, config({ contextLength: 64, batchSize: 1 }), [100, 100, 100]);
    const other = run('lora', 3, config({ mode: 'lora', contextLength: 64, batchSize: 1 }), [1, 1, 1]);
    expect(latestMeasurement(config(), [older, measured, other])).toEqual({ runName: 'small', msPerStep: 450, tokensPerStep: 64, steps: 3 });
    const target = config({ contextLength: 256, batchSize: 4, steps: 500 });
    const estimate = estimateDuration(target, [older, measured, other], { software: true });
    expect(tokensPerStep(target)).toBe(1024);
    expect(estimate.ms).toBe(500 * 450 * 16);
    expect(estimate.basis).toBe('from run "small": 450 ms per step of 64 tokens (median of 3 steps), scaled to 1024 tokens per step');
    expect(formatDuration(estimate.ms!)).toBe('about 60 min');
  });

  test('a checkpoint of the embedded model counts as the embedded model; a cached model needs its own runs', () => {
    const measured = run('a', 1, config(), [10, 20, 20]);
    expect(estimateDuration(config({ model: { source: 'checkpoint', runId: 'a' } }), [measured], null).ms).toBe(500 * 20);
    const cached = config({ model: { source: 'cached', id: 'm', name: 'm.gguf' } });
    expect(estimateDuration(cached, [measured], { software: true })).toEqual({
      ms: null,
      basis: 'no run of this model has trained in this browser yet: the first steps of a run measure it',
    });
  });

  test('without a run: the software-adapter figure, said as such; nothing on a real GPU', () => {
    const software = estimateDuration(config({ contextLength: 64, batchSize: 1, steps: 8 }), [], { software: true });
    expect(software.ms).toBe(8 * 64 * SOFTWARE_EMBEDDED_MS_PER_TOKEN);
    expect(software.basis).toMatch(/software adapter \(SwiftShader\)/);
    expect(estimateDuration(config(), [run('one step', 1, config(), [300])], { software: false }).ms).toBeNull();
  });

  test('durations read as people say them', () => {
    expect([formatDuration(400), formatDuration(42_000), formatDuration(600_000), formatDuration(3 * 3600_000 + 1_800_000), formatDuration(40 * 3600_000)]).toEqual([
      'about 1 s', 'about 42 s', 'about 10 min', 'about 3.5 h', 'about 40 h',
    ]);
  });
});
