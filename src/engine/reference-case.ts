// A reference case folder (one LoRA training step computed by HF transformers + PEFT), parsed and checked.
// Format: src/engine/testdata/reference/README.md.
import { readSafetensors, type SafetensorsFile } from '../model/safetensors';
import { specFromHfConfig } from '../model/config';
import { type LoraConfig, loraTensorShapes, parseAdapterConfig } from './peft';
import type { ModelSpec } from './spec';

export interface ReferenceBatch {
  /** [B][T] */
  inputIds: number[][];
  /** [B][T]: 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
  /** [B][T]: -100 where there is no loss; the label at t is predicted by the logits at t - 1. */
  labels: number[][];
  /** [B][k]: label positions [start, end) of each answer; the last is the final answer. */
  answerSpans: [number, number][][];
}

export interface ReferenceExpectedJson {
  loss_all_answers: number;
  loss_last_answer: number;
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  lora: { r: number; alpha: number; scaling: number; targets: string[] };
}

export interface ReferenceCase {
  spec: ModelSpec;
  /** config.json as parsed. */
  config: unknown;
  /** model.safetensors */
  weights: SafetensorsFile;
  lora: { config: LoraConfig; tensors: SafetensorsFile };
  batch: ReferenceBatch;
  /** expected.json, and expected.safetensors: logits, token_loss, grad.<key>, after.<key>. */
  expected: { json: ReferenceExpectedJson; tensors: SafetensorsFile };
}

function fail(file: string, message: string): never {
  throw new Error(`reference case ${file}: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function finiteNumber(file: string, value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(file, `${name} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

/** A [B][T] matrix of integers, every row of length T (T = the first row's length when T is undefined). */
function intMatrix(value: unknown, name: string, rows: number | undefined, cols: number | undefined): number[][] {
  if (!Array.isArray(value) || value.length === 0) fail('batch.json', `${name} must be a non-empty [B][T] list`);
  const B = rows ?? value.length;
  if (value.length !== B) fail('batch.json', `${name} has ${value.length} rows, input_ids has ${B}`);
  const T = cols ?? (Array.isArray(value[0]) ? value[0].length : 0);
  value.forEach((row: unknown, b) => {
    if (!Array.isArray(row) || row.length !== T || !row.every(isInt)) {
      fail('batch.json', `${name}[${b}] must be a list of ${T} integers`);
    }
  });
  return value as number[][];
}

function parseBatch(json: unknown, spec: ModelSpec): ReferenceBatch {
  if (!isObject(json)) fail('batch.json', 'is not a JSON object');
  const inputIds = intMatrix(json.input_ids, 'input_ids', undefined, undefined);
  const [B, T] = [inputIds.length, inputIds[0].length];
  if (T === 0) fail('batch.json', 'sequences are empty');
  const attentionMask = intMatrix(json.attention_mask, 'attention_mask', B, T);
  const labels = intMatrix(json.labels, 'labels', B, T);
  inputIds.forEach((row, b) => {
    const bad = row.findIndex((id) => id < 0 || id >= spec.vocabSize);
    if (bad >= 0) fail('batch.json', `input_ids[${b}][${bad}] = ${row[bad]} is outside the vocabulary (${spec.vocabSize})`);
  });
  attentionMask.forEach((row, b) => {
    if (!row.every((m) => m === 0 || m === 1)) fail('batch.json', `attention_mask[${b}] must hold only 0 and 1`);
  });
  labels.forEach((row, b) => {
    const bad = row.findIndex((l) => l !== -100 && (l < 0 || l >= spec.vocabSize));
    if (bad >= 0) fail('batch.json', `labels[${b}][${bad}] = ${row[bad]} is neither -100 nor a token id`);
  });

  const spans = json.answer_spans;
  if (!Array.isArray(spans) || spans.length !== B) fail('batch.json', `answer_spans must have ${B} rows`);
  const answerSpans = spans.map((row: unknown, b): [number, number][] => {
    if (!Array.isArray(row) || row.length === 0) fail('batch.json', `answer_spans[${b}] must be a non-empty list`);
    return row.map((span: unknown, k): [number, number] => {
      if (!Array.isArray(span) || span.length !== 2 || !span.every(isInt) || span[0] < 1 || span[0] >= span[1] || span[1] > T) {
        fail('batch.json', `answer_spans[${b}][${k}] = ${JSON.stringify(span)} is not [start, end) with 1 <= start < end <= ${T}`);
      }
      return [span[0], span[1]];
    });
  });
  return { inputIds, attentionMask, labels, answerSpans };
}

function parseExpectedJson(json: unknown): ReferenceExpectedJson {
  const file = 'expected.json';
  if (!isObject(json)) fail(file, 'is not a JSON object');
  const { optimizer, lora } = json;
  if (!isObject(optimizer)) fail(file, 'optimizer is missing');
  if (!isObject(lora)) fail(file, 'lora is missing');
  const betas = optimizer.betas;
  if (!Array.isArray(betas) || betas.length !== 2) fail(file, `optimizer.betas must be [beta1, beta2]`);
  const targets = lora.targets;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) fail(file, 'lora.targets must be a list of names');
  return {
    loss_all_answers: finiteNumber(file, json.loss_all_answers, 'loss_all_answers'),
    loss_last_answer: finiteNumber(file, json.loss_last_answer, 'loss_last_answer'),
    optimizer: {
      lr: finiteNumber(file, optimizer.lr, 'optimizer.lr'),
      betas: [finiteNumber(file, betas[0], 'optimizer.betas[0]'), finiteNumber(file, betas[1], 'optimizer.betas[1]')],
      eps: finiteNumber(file, optimizer.eps, 'optimizer.eps'),
      weight_decay: finiteNumber(file, optimizer.weight_decay, 'optimizer.weight_decay'),
    },
    lora: {
      r: finiteNumber(file, lora.r, 'lora.r'),
      alpha: finiteNumber(file, lora.alpha, 'lora.alpha'),
      scaling: finiteNumber(file, lora.scaling, 'lora.scaling'),
      targets: targets as string[],
    },
  };
}

/** Throws unless `file` holds a tensor `key` of this shape. */
function checkShape(fileName: string, file: SafetensorsFile, key: string, shape: number[]): void {
  const info = file.header.tensors.get(key);
  if (!info) fail(fileName, `has no tensor "${key}"`);
  if (info.shape.join(',') !== shape.join(',')) {
    fail(fileName, `tensor "${key}" has shape [${info.shape}], expected [${shape}]`);
  }
}

/**
 * Reads and checks a case folder. `read(name)` returns the bytes of one of its files (config.json,
 * model.safetensors, adapter_config.json, adapter_model.safetensors, batch.json, expected.json,
 * expected.safetensors).
 */
export async function loadReferenceCase(read: (name: string) => Promise<Uint8Array>): Promise<ReferenceCase> {
  const decoder = new TextDecoder();
  const readJson = async (name: string): Promise<unknown> => {
    const text = decoder.decode(await read(name));
    try {
      return JSON.parse(text);
    } catch (e) {
      return fail(name, `is not valid JSON (${(e as Error).message})`);
    }
  };
  const readTensors = async (name: string): Promise<SafetensorsFile> => {
    const bytes = await read(name);
    try {
      return readSafetensors(bytes);
    } catch (e) {
      return fail(name, (e as Error).message);
    }
  };

  const config = await readJson('config.json');
  const spec = specFromHfConfig(config);
  const weights = await readTensors('model.safetensors');
  const loraConfig = parseAdapterConfig(await readJson('adapter_config.json'));
  const loraTensors = await readTensors('adapter_model.safetensors');
  const batch = parseBatch(await readJson('batch.json'), spec);
  const expectedJson = parseExpectedJson(await readJson('expected.json'));
  const expectedTensors = await readTensors('expected.safetensors');

  checkShape('model.safetensors', weights, 'model.embed_tokens.weight', [spec.vocabSize, spec.hiddenSize]);
  if (!spec.tieWordEmbeddings) checkShape('model.safetensors', weights, 'lm_head.weight', [spec.vocabSize, spec.hiddenSize]);
  if (expectedJson.lora.r !== loraConfig.rank || expectedJson.lora.alpha !== loraConfig.alpha) {
    fail('expected.json', `lora r/alpha ${expectedJson.lora.r}/${expectedJson.lora.alpha} differ from adapter_config.json`);
  }
  const shapes = loraTensorShapes(spec, loraConfig);
  for (const { key, shape } of shapes) {
    checkShape('adapter_model.safetensors', loraTensors, key, shape);
    checkShape('expected.safetensors', expectedTensors, `grad.${key}`, shape);
    checkShape('expected.safetensors', expectedTensors, `after.${key}`, shape);
  }
  if (loraTensors.header.tensors.size !== shapes.length) {
    const known = new Set(shapes.map((s) => s.key));
    const extra = [...loraTensors.header.tensors.keys()].filter((k) => !known.has(k));
    fail('adapter_model.safetensors', `has tensors the adapter config does not describe: ${extra.slice(0, 3).join(', ')}`);
  }
  const [B, T] = [batch.inputIds.length, batch.inputIds[0].length];
  checkShape('expected.safetensors', expectedTensors, 'logits', [B, T, spec.vocabSize]);
  checkShape('expected.safetensors', expectedTensors, 'token_loss', [B, T]);

  return {
    spec,
    config,
    weights,
    lora: { config: loraConfig, tensors: loraTensors },
    batch,
    expected: { json: expectedJson, tensors: expectedTensors },
  };
}
