// npm run plan -- --shape NAME --quant TYPE | --gguf FILE|URL  --seq T [--batch B] [--rank R] [--targets q,k,...]
//   [--recompute] [--activations f32|f16] [--answer-tokens P] [--max-binding BYTES|GiB] [--gpu-memory BYTES|GiB]
// The GPU memory a LoRA training step needs, from the shapes alone (no GPU, no weights): one JSON line with
// total_bytes, weights_bytes, lora_bytes, activations_bytes, loss_bytes, largest_binding_bytes, and with
// --gpu-memory, gpu_memory_bytes and fits (plus the reason when it does not). --shape plans a named shape of
// src/bench/shapes.ts with every matrix in --quant (a GGML type, or Q4_K_M: llama.cpp's mix of Q4_K and Q6_K);
// --gguf reads only the header of a local file or of an http(s) URL (Range requests), and plans its real
// per-tensor types. --max-binding is the GPU's maxStorageBufferBindingSize (default 1 GiB). --activations (default
// f16, what a run of a cached model uses) plans the saved layer inputs as packed f16 pairs or as f32.
// Exit codes: 0 done, 1 a file that cannot be read or planned, 2 bad arguments.
import { parseArgs } from 'node:util';
import { MODEL_SHAPES } from '../bench/shapes';
import { GpuTooSmallError, checkPlanFits } from '../engine/plan';
import { LORA_TARGETS, type LoraTarget } from '../engine/spec';
import { type GgufHeader, parseGgufHeader } from '../model/gguf/reader';
import { type ModelPlan, type RunPlanOptions, SHAPE_QUANTS, type ShapeQuant, planFigures, planForGguf, planForShape } from '../model/gguf/plan';
import { errorMessage } from '../util/errors';
import { httpRangeSource } from './http-range';
import { nodeRangeFile } from './node-folder';
import { UsageError, runMain } from './run-main';

const USAGE =
  'usage: npm run plan -- (--shape NAME --quant TYPE | --gguf FILE|URL) --seq T [--batch B] [--rank R] [--targets q,k,v,o,gate,up,down] ' +
  '[--recompute] [--activations f32|f16] [--answer-tokens P] [--max-binding BYTES|GiB] [--gpu-memory BYTES|GiB]';


const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "8589934592", "8GiB", "7.5 GiB", "16GB" -> bytes. */
function parseBytes(flag: string, text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match ? UNITS[(match[2] || 'b').toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new UsageError(`${flag} takes bytes, e.g. 8589934592, 8GiB or 16GB; got ${text}`);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes <= 0) throw new UsageError(`${flag} must be more than 0 bytes; got ${text}`);
  return bytes;
}

function positiveInt(flag: string, text: string | undefined, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new UsageError(`give ${flag}`);
    return fallback;
  }
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number of at least 1; got ${text}`);
  return n;
}

/** "q,k,v" or "q_proj,k_proj" -> LoRA targets. */
function parseTargets(text: string): LoraTarget[] {
  const targets = text.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
    const target = (t.endsWith('_proj') ? t : `${t}_proj`) as LoraTarget;
    if (!LORA_TARGETS.includes(target)) throw new UsageError(`--targets takes ${LORA_TARGETS.map((x) => x.replace('_proj', '')).join(',')}; got ${t}`);
    return target;
  });
  if (targets.length === 0) throw new UsageError('--targets names no projection');
  return [...new Set(targets)];
}

async function readHeader(path: string): Promise<GgufHeader> {
  if (/^https?:\/\//i.test(path)) return parseGgufHeader(await httpRangeSource(path));
  const { file, close } = await nodeRangeFile(path);
  try {
    return await parseGgufHeader(file.source);
  } finally {
    await close();
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        shape: { type: 'string' }, gguf: { type: 'string' }, quant: { type: 'string' }, seq: { type: 'string' }, batch: { type: 'string' },
        rank: { type: 'string' }, targets: { type: 'string' }, recompute: { type: 'boolean', default: false }, activations: { type: 'string' },
        'answer-tokens': { type: 'string' }, 'max-binding': { type: 'string' }, 'gpu-memory': { type: 'string' },
      },
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  if ((values.shape === undefined) === (values.gguf === undefined)) throw new UsageError('give one of --shape NAME and --gguf FILE');
  const seqLen = positiveInt('--seq', values.seq);
  const batch = positiveInt('--batch', values.batch, 1);
  const rank = positiveInt('--rank', values.rank, 16);
  const targets = values.targets === undefined ? [...LORA_TARGETS] : parseTargets(values.targets);
  const maxBinding = values['max-binding'] === undefined ? 1024 ** 3 : parseBytes('--max-binding', values['max-binding']);
  const gpuMemory = values['gpu-memory'] === undefined ? undefined : parseBytes('--gpu-memory', values['gpu-memory']);
  const answerTokens = values['answer-tokens'] === undefined ? undefined : positiveInt('--answer-tokens', values['answer-tokens']);
  const activations = values.activations ?? 'f16'; // what a run of a cached model uses (run-config activationDtype)
  if (activations !== 'f32' && activations !== 'f16') throw new UsageError(`--activations takes f32 or f16; got ${activations}`);
  const limits = { maxStorageBufferBindingSize: maxBinding, maxBufferSize: Math.max(maxBinding, 4 * 1024 ** 3) };
  const options: RunPlanOptions = { batch, seqLen, recompute: values.recompute, activations, lora: { rank, targets }, targets: answerTokens, limits };

  let planned: ModelPlan;
  let model: Record<string, string>;
  if (values.shape !== undefined) {
    const spec = MODEL_SHAPES[values.shape.toLowerCase()];
    if (!spec) throw new UsageError(`unknown --shape ${values.shape}; known: ${Object.keys(MODEL_SHAPES).join(', ')}`);
    const quant = values.quant as ShapeQuant | undefined;
    if (quant === undefined || !SHAPE_QUANTS.includes(quant)) throw new UsageError(`--shape needs --quant ${SHAPE_QUANTS.join('|')}; got ${values.quant ?? 'nothing'}`);
    planned = planForShape(spec, quant, options);
    model = { shape: values.shape.toLowerCase(), quant };
  } else {
    if (values.quant !== undefined) throw new UsageError('--quant is for --shape; a GGUF file is planned in its own tensor types');
    planned = planForGguf(await readHeader(values.gguf as string), options);
    model = { gguf: values.gguf as string };
  }
  const { plan } = planned;
  const out: Record<string, unknown> = { ...model, seq: seqLen, batch, rank, targets: targets.map((t) => t.replace('_proj', '')), recompute: values.recompute, activations, ...planFigures(plan) };
  if (gpuMemory !== undefined) {
    out.gpu_memory_bytes = gpuMemory;
    try {
      checkPlanFits(plan, limits, gpuMemory);
      out.fits = true;
    } catch (error) {
      if (!(error instanceof GpuTooSmallError)) throw error;
      out.fits = false;
      out.reason = error.message;
    }
  }
  console.log(JSON.stringify(out));
  return 0;
}

runMain(main, USAGE);
