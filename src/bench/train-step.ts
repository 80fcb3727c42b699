// The training-step benchmark: a model of a named shape with random weights, a synthetic many-shot batch,
// and full ManyICL steps (forward, masked multi-answer cross-entropy, backward, AdamW), timed.
import type { ActivationDtype } from '../engine/activations';
import { Model } from '../engine/weights';
import { LORA_TARGETS } from '../engine/spec';
import type { SequenceBatch } from '../engine/trainer';
import type { Gpu } from '../gpu/gpu';
import { createTrainer } from '../train/trainer';
import { mulberry32 } from '../util/random';
import { MODEL_SHAPES } from './shapes';

export interface BenchOptions {
  shape: string;
  seq: number;
  batch: number;
  rank: number;
  steps: number;
  recompute: boolean;
  /** How the saved layer inputs are stored; default f32. */
  activations?: ActivationDtype;
  /** Allocate everything but run no step: shows the memory plan of shapes too slow for this GPU. */
  allocateOnly?: boolean;
  /** One more step timed per kernel where timestamp queries exist (default true). */
  kernelTiming?: boolean;
}

export interface BenchResult {
  shape: string;
  seq: number;
  batch: number;
  rank: number;
  recompute: boolean;
  activations: ActivationDtype;
  adapter: string;
  steps: number;
  step_ms: number | null;
  /** CPU time recording a step's commands (bind groups, passes), the mean over the timed steps. */
  encode_ms: number | null;
  tokens_per_s: number | null;
  loss: number | null;
  peak_bytes: number;
  largest_buffer: { label: string; bytes: number };
  /** Buffers as big as T x T x heads or T x vocab would be. */
  forbidden_sizes: { t_t_heads: number; t_vocab: number };
  kernel_ms: Record<string, number> | null;
}

/** x1 y1 x2 y2 ...: 12-token inputs then 4-token answers, every answer a target. */
export function syntheticManyShotBatch(batch: number, seq: number, vocab: number, seed: number): SequenceBatch {
  const next = mulberry32(seed);
  const out: SequenceBatch = { inputIds: [], attentionMask: [], labels: [], answerSpans: [] };
  for (let b = 0; b < batch; b++) {
    const ids = Array.from({ length: seq }, () => 3 + Math.floor(next() * (vocab - 3)));
    const labels = new Array<number>(seq).fill(-100);
    const spans: [number, number][] = [];
    for (let start = 12; start + 4 <= seq; start += 16) {
      for (let t = start; t < start + 4; t++) labels[t] = ids[t];
      spans.push([start, start + 4]);
    }
    out.inputIds.push(ids);
    out.attentionMask.push(new Array<number>(seq).fill(1));
    out.labels.push(labels);
    out.answerSpans.push(spans);
  }
  return out;
}

export async function runBench(gpu: Gpu, opts: BenchOptions, log: (line: string) => void = () => {}): Promise<BenchResult> {
  const spec = MODEL_SHAPES[opts.shape];
  if (!spec) throw new Error(`unknown shape ${opts.shape}; known: ${Object.keys(MODEL_SHAPES).join(', ')}`);
  const training = createTrainer(gpu, Model.random(gpu, spec, 1), {
    mode: 'lora',
    lora: { rank: opts.rank, alpha: 2 * opts.rank, targets: [...LORA_TARGETS] },
    objective: 'manyicl',
    adamw: { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
    maxGradNorm: 1,
    recompute: opts.recompute,
    activations: opts.activations,
    seed: 2,
  });
  const { trainer } = training;
  const batch = syntheticManyShotBatch(opts.batch, opts.seq, spec.vocabSize, 3);
  const result: BenchResult = {
    shape: opts.shape, seq: opts.seq, batch: opts.batch, rank: opts.rank, recompute: opts.recompute,
    activations: opts.activations ?? 'f32',
    adapter: `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`.trim(),
    steps: 0, step_ms: null, encode_ms: null, tokens_per_s: null, loss: null, peak_bytes: 0, largest_buffer: { label: '', bytes: 0 },
    forbidden_sizes: { t_t_heads: opts.seq * opts.seq * spec.numHeads * 4, t_vocab: opts.seq * spec.vocabSize * 4 },
    kernel_ms: null,
  };
  try {
    if (opts.allocateOnly) {
      trainer.allocate(opts.batch, opts.seq, batch);
    } else {
      log(`warm-up step (compiles the pipelines)`);
      await trainer.step([batch]);
      let total = 0;
      let encode = 0;
      for (let i = 0; i < opts.steps; i++) {
        const t0 = performance.now();
        const r = await trainer.step([batch]);
        const ms = performance.now() - t0;
        total += ms;
        encode += r.encodeMs;
        result.loss = r.loss;
        log(`step ${i + 1}/${opts.steps}: ${ms.toFixed(1)} ms (encode ${r.encodeMs.toFixed(1)} ms), loss ${r.loss.toFixed(4)}`);
      }
      result.steps = opts.steps;
      result.step_ms = total / opts.steps;
      result.encode_ms = encode / opts.steps;
      result.tokens_per_s = (opts.batch * opts.seq) / (result.step_ms / 1000);
      if (opts.kernelTiming !== false && gpu.startTiming()) {
        await trainer.step([batch]);
        const timings = await gpu.stopTiming();
        const byKernel: Record<string, number> = {};
        for (const [label, t] of Object.entries(timings)) {
          const kernel = label.replace(/^layer\d+\./, '');
          byKernel[kernel] = (byKernel[kernel] ?? 0) + t.ms;
        }
        result.kernel_ms = Object.fromEntries(Object.entries(byKernel).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number(v.toFixed(3))]));
      }
    }
    result.peak_bytes = gpu.peakBytes;
    result.largest_buffer = gpu.largestBuffer;
    return result;
  } finally {
    training.destroy();
  }
}
