// Converts a reference case folder to a GGUF case: the base model as model.gguf (llama.cpp's layout, weights in
// one GGML type), the same adapter and batch, and the expected values recomputed by the float64 CPU reference
// step on the exact dequantization of that file. Format: src/testdata/gguf/README.md.
import { ggufFromHfModel } from '../model/gguf/convert';
import type { GgmlType } from '../engine/ggml';
import { writeSafetensors } from '../model/safetensors';
import { adapterConfigJson, loraScaling } from '../engine/peft';
import { type ReferenceCase, loadReferenceCase, readGgufBaseModel } from './case';
import { cpuReferenceStep } from './cpu-step';

export interface MakeGgufCaseOptions {
  /** Where the source case came from, for expected.json (e.g. 'reference/llama-tiny'). */
  sourceName?: string;
}

function fail(message: string): never {
  throw new Error(`GGUF case: ${message}`);
}

/** The same spec, compared regardless of key order. */
function sameSpec(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown) =>
    JSON.stringify(value, (_, v: unknown) =>
      typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
    );
  return canonical(a) === canonical(b);
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 1) + '\n');
}

/** A reader over files held in memory, for loadReferenceCase. */
export function filesReader(files: Map<string, Uint8Array>): (name: string) => Promise<Uint8Array> {
  return async (name) => files.get(name) ?? fail(`no file ${name}`);
}

/**
 * The files of a GGUF case folder, by file name: model.gguf (2-D weights in `type`, or the fallback
 * matrixType picks for rows that are not whole blocks; norms F32), adapter_config.json,
 * adapter_model.safetensors and batch.json with the source's values, and expected.json/expected.safetensors
 * from cpuReferenceStep on model.gguf as readGgufBaseModel reads it, with the source's optimizer settings.
 */
export async function makeGgufCase(source: ReferenceCase, type: GgmlType, options: MakeGgufCaseOptions = {}): Promise<Map<string, Uint8Array>> {
  const model = ggufFromHfModel({
    spec: source.spec,
    type,
    tensors: (name) => (source.weights.has(name) ? source.weights.tensor(name) : undefined),
    name: options.sourceName,
  });
  const base = await readGgufBaseModel(model);
  if (!sameSpec(base.spec, source.spec)) {
    fail(`model.gguf reads back as ${JSON.stringify(base.spec)}, not the source's ${JSON.stringify(source.spec)}`);
  }

  const { batch } = source;
  const loraConfig = source.lora.config;
  const sourceLora = source.lora.tensors;
  const result = cpuReferenceStep({
    spec: base.spec,
    weights: (name) => base.weights.tensor(name),
    lora: { config: loraConfig, tensors: (key) => sourceLora.tensor(key) },
    batch,
    optimizer: source.expected.json.optimizer,
  });

  const [B, T] = [batch.inputIds.length, batch.inputIds[0].length];
  const loraKeys = [...sourceLora.header.tensors.keys()];
  const expected: Record<string, { shape: number[]; data: Float32Array }> = {
    logits: { shape: [B, T, base.spec.vocabSize], data: Float32Array.from(result.logits) },
    token_loss: { shape: [B, T], data: Float32Array.from(result.tokenLoss) },
  };
  const adapter: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const key of loraKeys) {
    const shape = sourceLora.info(key).shape;
    adapter[key] = { shape, data: sourceLora.tensor(key) };
    expected[`grad.${key}`] = { shape, data: Float32Array.from(result.grads.get(key) ?? fail(`no gradient for ${key}`)) };
    expected[`after.${key}`] = { shape, data: Float32Array.from(result.after.get(key) ?? fail(`no update for ${key}`)) };
  }

  const tensorTypes: Record<string, GgmlType> = {};
  for (const info of base.gguf.header.tensorInfos) tensorTypes[info.name] = info.type;
  const from = options.sourceName ? ` from ${options.sourceName}` : '';
  const expectedJson = {
    arch: base.spec.arch,
    loss_all_answers: result.lossAllAnswers,
    loss_last_answer: result.lossLastAnswer,
    optimizer: { ...source.expected.json.optimizer, name: 'AdamW (decoupled weight decay, PyTorch semantics), one step, step=1, bias-corrected' },
    lora: { r: loraConfig.rank, alpha: loraConfig.alpha, scaling: loraScaling(loraConfig), targets: source.expected.json.lora.targets },
    base_model: { file: 'model.gguf', type, tensor_types: tensorTypes },
    tolerance_hint:
      'float64 reference on the exact dequantization of model.gguf, stored as float32; the README tolerances apply unchanged',
    generator: `src/reference/make-gguf-case.ts (ggufFromHfModel, then the float64 CPU reference step)${from}`,
  };
  const batchJson = {
    input_ids: batch.inputIds,
    attention_mask: batch.attentionMask,
    labels: batch.labels,
    answer_spans: batch.answerSpans,
  };

  const files = new Map<string, Uint8Array>([
    ['model.gguf', model],
    ['adapter_config.json', jsonBytes(adapterConfigJson(loraConfig))],
    ['adapter_model.safetensors', writeSafetensors(adapter, { format: 'pt' })],
    ['batch.json', new TextEncoder().encode(JSON.stringify(batchJson) + '\n')],
    ['expected.json', jsonBytes(expectedJson)],
    ['expected.safetensors', writeSafetensors(expected)],
  ]);
  // The folder must load as a case, with the source's spec.
  const written = await loadReferenceCase(filesReader(files));
  if (written.baseFormat !== 'gguf' || !sameSpec(written.spec, source.spec)) fail('the written folder does not load back as the source case');
  return files;
}

/** One GGUF case in src/testdata/gguf: `<source>-<type>`. */
export interface GgufCaseDefinition {
  name: string;
  /** A folder under src/testdata, e.g. 'reference/llama-tiny'. */
  source: string;
  type: GgmlType;
  /** Kept in the repository (the others are made on the fly by the tests and the CLI, to keep it small). */
  committed: boolean;
}

const SHARED_CASES = ['llama-tiny', 'mistral-tiny', 'llama3-tiny'] as const;

function definition(sourceCase: string, type: GgmlType, committed: boolean): GgufCaseDefinition {
  return { name: `${sourceCase}-${type}`, source: `reference/${sourceCase}`, type, committed };
}

/**
 * The GGUF cases (see src/testdata/gguf/README.md). F32 cases are lossless conversions, checked
 * against the PyTorch values, but take 3 MB; they are not committed. Q6_K comes from llama3-tiny, whose
 * down_proj rows (256) hold whole K-quant blocks; every row of llama-tiny (64, 160) would fall back to Q8_0.
 */
export const GGUF_CASES: readonly GgufCaseDefinition[] = [
  ...SHARED_CASES.map((c) => definition(c, 'F32', false)),
  ...SHARED_CASES.map((c) => definition(c, 'F16', true)),
  definition('llama-tiny', 'Q8_0', true),
  definition('llama-tiny', 'Q4_0', true),
  definition('llama3-tiny', 'Q6_K', true),
];
