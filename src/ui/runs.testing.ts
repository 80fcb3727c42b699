// Fixture runs for the component tests: made-up metrics shaped like a real run's.
import { defaultRunConfig } from '../store/run-setup';
import type { RunRecord, StepMetrics } from '../train/protocol';

/** Step metrics where the loss falls with the step and with the shot index, as in-context learning does. */
export function fixtureMetrics(steps: number, shots = 6): StepMetrics[] {
  return Array.from({ length: steps }, (_, i): StepMetrics => {
    const step = i + 1;
    const base = 3.5 * Math.exp(-step / 40) + 0.4;
    const shotLoss = Array.from({ length: shots }, (_, k) => base * (1 - 0.5 * (1 - Math.exp(-k / 2)) * Math.min(1, step / 30)));
    return {
      step, loss: shotLoss.reduce((a, b) => a + b, 0) / shots, lr: 1e-3, gradNorm: 0.8, tokensPerSecond: 4200, stepMs: 120,
      gpuBytes: 48 * 1024 * 1024, shotLoss, taskLoss: step % 2 ? { sentiment: base } : { arithmetic: base * 1.2 },
    };
  });
}

export function fixtureRun(overrides: Partial<RunRecord> = {}): RunRecord {
  const metrics = fixtureMetrics(12);
  return {
    id: 'run-a',
    name: 'manyicl · full #1',
    createdAt: new Date(2026, 0, 15, 9, 30).getTime(),
    config: { ...defaultRunConfig(), steps: 100 },
    status: 'running',
    metrics,
    checkpointStep: 10,
    sample: {
      step: 12,
      tokens: [
        { text: 'in: good film\nout:', loss: null, shot: null },
        { text: ' ', loss: 0.5, shot: 0 },
        { text: 'pos', loss: 2.5, shot: 0 },
        { text: '\n', loss: 0.1, shot: 0 },
      ],
    },
    ...overrides,
  };
}
