// Makes a reference case folder (the format of src/testdata/reference/README.md) from random weights,
// with the expected values computed by the float64 CPU reference step.
import { hfConfigJson, specFromHfConfig } from '../model/config';
import { writeSafetensors } from '../model/safetensors';
import { mulberry32 } from '../util/random';
import { type LoraConfig, adapterConfigJson, loraScaling, loraTensorShapes } from '../engine/peft';
import { LORA_TARGETS, type LoraTarget, type ModelSpec, WEIGHT_NAMES, linearShape } from '../engine/spec';
import { type CpuStepInput, cpuReferenceStep } from './cpu-step';

export interface MakeCaseOptions {
  spec: ModelSpec;
  batch: number;
  seqLen: number;
  /** Answer spans per sequence. */
  answers: number;
  /** Right padding of the last sequence. */
  pad: number;
  rank: number;
  alpha: number;
  /** LoRA targets; all seven linear layers when absent. */
  targets?: LoraTarget[];
  seed: number;
}

/** The optimizer settings of the PyTorch cases. */
export const CASE_OPTIMIZER: CpuStepInput['optimizer'] = { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 };

/** Standard normal samples from a seeded uniform generator (Box-Muller). */
function normalSampler(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => {
    const u1 = 1 - uniform(); // in (0, 1]
    const u2 = uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
}

function randomTensor(size: number, sample: () => number, value: (n: number) => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = value(sample());
  return out;
}

interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Every base weight by HF name, in the order that fixes the random streams of the committed cases. */
function baseWeightShapes(spec: ModelSpec): { name: string; shape: number[] }[] {
  const d = spec.hiddenSize;
  const shapes: { name: string; shape: number[] }[] = [{ name: WEIGHT_NAMES.embedding, shape: [spec.vocabSize, d] }];
  for (let l = 0; l < spec.numLayers; l++) {
    for (const target of LORA_TARGETS) shapes.push({ name: WEIGHT_NAMES.linear(l, target), shape: linearShape(spec, target) });
    shapes.push({ name: WEIGHT_NAMES.attnNorm(l), shape: [d] });
    shapes.push({ name: WEIGHT_NAMES.mlpNorm(l), shape: [d] });
  }
  shapes.push({ name: WEIGHT_NAMES.finalNorm, shape: [d] });
  if (!spec.tieWordEmbeddings) shapes.push({ name: WEIGHT_NAMES.lmHead, shape: [spec.vocabSize, d] });
  return shapes;
}

export interface RandomCase {
  input: CpuStepInput;
  weights: Map<string, NamedTensor>;
  lora: Map<string, NamedTensor>;
}

/**
 * Random weights scaled like make_fixtures.py (norms 1 + 0.1 N(0,1), other weights N(0,1) / sqrt(fan_in),
 * LoRA tensors 0.2 N(0,1)) and a batch laid out like it: tokens in [3, V), the last sequence right-padded with
 * token 0, and `answers` labelled spans of 1..4 tokens per sequence.
 */
export function randomCase(opts: MakeCaseOptions): RandomCase {
  const { spec, batch: B, seqLen: T, answers, pad } = opts;
  if (!(pad >= 0 && pad < T)) throw new Error(`pad ${pad} must lie in [0, ${T})`);
  if (Math.floor((T - pad) / answers) < 2) throw new Error(`${answers} answers do not fit in ${T - pad} tokens`);
  const sample = normalSampler(opts.seed);

  const weights = new Map<string, NamedTensor>();
  for (const { name, shape } of baseWeightShapes(spec)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape[shape.length - 1];
    const data = name.endsWith('norm.weight')
      ? randomTensor(size, sample, (z) => 1 + 0.1 * z)
      : randomTensor(size, sample, (z) => z * (0.5 / Math.sqrt(fanIn)) * 2);
    weights.set(name, { shape, data });
  }

  const targets = opts.targets ?? [...LORA_TARGETS];
  const config: LoraConfig = { rank: opts.rank, alpha: opts.alpha, targets: LORA_TARGETS.filter((t) => targets.includes(t)) };
  const lora = new Map<string, NamedTensor>();
  for (const { key, shape } of loraTensorShapes(spec, config)) {
    lora.set(key, { shape, data: randomTensor(shape[0] * shape[1], sample, (z) => 0.2 * z) });
  }

  const uniform = mulberry32(opts.seed + 1);
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const labels: number[][] = [];
  const answerSpans: [number, number][][] = [];
  for (let b = 0; b < B; b++) {
    const length = T - (b === B - 1 ? pad : 0);
    const ids = Array.from({ length: T }, (_, t) => (t < length ? 3 + Math.floor(uniform() * (spec.vocabSize - 3)) : 0));
    const rowLabels = new Array<number>(T).fill(-100);
    const spans: [number, number][] = [];
    const segment = Math.floor(length / answers);
    for (let k = 0; k < answers; k++) {
      const spanLength = 1 + ((k * 7 + b) % 4);
      const end = Math.min((k + 1) * segment, length);
      const start = Math.max(end - spanLength, k * segment + 1);
      for (let t = start; t < end; t++) rowLabels[t] = ids[t];
      spans.push([start, end]);
    }
    inputIds.push(ids);
    attentionMask.push(Array.from({ length: T }, (_, t) => (t < length ? 1 : 0)));
    labels.push(rowLabels);
    answerSpans.push(spans);
  }

  const tensorOf = (map: Map<string, NamedTensor>, what: string) => (name: string) => {
    const tensor = map.get(name);
    if (!tensor) throw new Error(`random case: no ${what} "${name}"`);
    return tensor.data;
  };
  return {
    input: {
      spec,
      weights: tensorOf(weights, 'weight'),
      lora: { config, tensors: tensorOf(lora, 'LoRA tensor') },
      batch: { inputIds, attentionMask, labels, answerSpans },
      optimizer: CASE_OPTIMIZER,
    },
    weights,
    lora,
  };
}

/** JSON with object keys sorted, to compare specs regardless of key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 1) + '\n');
}

function safetensorsBytes(tensors: Map<string, NamedTensor>): Uint8Array {
  return writeSafetensors(Object.fromEntries(tensors));
}

/** The files of a case folder, by file name. */
export function makeReferenceCase(opts: MakeCaseOptions): Map<string, Uint8Array> {
  const { spec } = opts;
  const config = hfConfigJson(spec);
  if (canonicalJson(specFromHfConfig(config)) !== canonicalJson(spec)) {
    throw new Error(`config.json does not read back as the spec: ${canonicalJson(specFromHfConfig(config))}`);
  }
  const { input, weights, lora } = randomCase(opts);
  const result = cpuReferenceStep(input);
  const { batch } = input;
  const [B, T] = [batch.inputIds.length, batch.inputIds[0].length];

  const expected = new Map<string, NamedTensor>([
    ['logits', { shape: [B, T, spec.vocabSize], data: Float32Array.from(result.logits) }],
    ['token_loss', { shape: [B, T], data: Float32Array.from(result.tokenLoss) }],
  ]);
  for (const [key, tensor] of lora) {
    expected.set(`grad.${key}`, { shape: tensor.shape, data: Float32Array.from(result.grads.get(key)!) });
    expected.set(`after.${key}`, { shape: tensor.shape, data: Float32Array.from(result.after.get(key)!) });
  }
  const loraConfig = input.lora.config;
  const expectedJson = {
    arch: spec.arch,
    loss_all_answers: result.lossAllAnswers,
    loss_last_answer: result.lossLastAnswer,
    optimizer: { ...CASE_OPTIMIZER, name: 'AdamW (decoupled weight decay, PyTorch semantics), one step, step=1, bias-corrected' },
    lora: { r: loraConfig.rank, alpha: loraConfig.alpha, scaling: loraScaling(loraConfig), targets: loraConfig.targets },
    tolerance_hint: 'float64 reference stored as float32; a float32 engine should match logits within ~1e-4 relative, grads within ~1e-3 relative',
    generator: `src/reference/make-case.ts (float64 CPU reference step), seed ${opts.seed}`,
  };
  const batchJson = {
    input_ids: batch.inputIds,
    attention_mask: batch.attentionMask,
    labels: batch.labels,
    answer_spans: batch.answerSpans,
  };

  return new Map([
    ['config.json', jsonBytes(config)],
    ['model.safetensors', safetensorsBytes(weights)],
    ['adapter_config.json', jsonBytes(adapterConfigJson(loraConfig))],
    ['adapter_model.safetensors', safetensorsBytes(lora)],
    ['batch.json', new TextEncoder().encode(JSON.stringify(batchJson) + '\n')],
    ['expected.json', jsonBytes(expectedJson)],
    ['expected.safetensors', safetensorsBytes(expected)],
  ]);
}

const SMALL_MODEL_DEFAULTS = {
  rmsNormEps: 1e-5,
  ropeScaling: null,
  slidingWindow: null,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 4096,
  bosTokenId: 1,
  eosTokenId: 2,
} as const;

/** The cases in src/testdata/generated (written by src/cli/make-cases.ts; see the README there). */
export const GENERATED_CASES: { name: string; options: MakeCaseOptions }[] = [
  {
    // GQA 8/2, odd T, LoRA on three targets only, right padding.
    name: 'odd-gqa',
    options: {
      spec: {
        ...SMALL_MODEL_DEFAULTS,
        arch: 'llama',
        vocabSize: 300,
        hiddenSize: 64,
        intermediateSize: 96,
        numLayers: 2,
        numHeads: 8,
        numKvHeads: 2,
        headDim: 8,
        ropeTheta: 10000,
      },
      batch: 3,
      seqLen: 37,
      answers: 4,
      pad: 6,
      rank: 8,
      alpha: 16,
      targets: ['q_proj', 'v_proj', 'down_proj'],
      seed: 101,
    },
  },
  {
    // Sliding window 7 over T = 29, one kv head (MQA), head_dim 32, three layers.
    name: 'mistral-window',
    options: {
      spec: {
        ...SMALL_MODEL_DEFAULTS,
        arch: 'mistral',
        vocabSize: 256,
        hiddenSize: 128,
        intermediateSize: 200,
        numLayers: 3,
        numHeads: 4,
        numKvHeads: 1,
        headDim: 32,
        rmsNormEps: 1e-6,
        ropeTheta: 1e6,
        slidingWindow: 7,
      },
      batch: 1,
      seqLen: 29,
      answers: 3,
      pad: 0,
      rank: 2,
      alpha: 6,
      seed: 102,
    },
  },
  {
    // Llama 3 RoPE scaling with T = 96 beyond original_max_position_embeddings = 32; rope_theta 1e4 puts the
    // 8 frequencies of head_dim 16 in all three bands (kept, blended, divided by factor). Tied embeddings.
    name: 'llama3-tied-long',
    options: {
      spec: {
        ...SMALL_MODEL_DEFAULTS,
        arch: 'llama',
        vocabSize: 200,
        hiddenSize: 32,
        intermediateSize: 64,
        numLayers: 1,
        numHeads: 2,
        numKvHeads: 2,
        headDim: 16,
        ropeTheta: 10000,
        ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 },
        tieWordEmbeddings: true,
      },
      batch: 1,
      seqLen: 96,
      answers: 8,
      pad: 0,
      rank: 4,
      alpha: 8,
      seed: 103,
    },
  },
];
