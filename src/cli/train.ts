// npm run train -- --config FILE --out DIR [--steps N] [--context T] [--batch B] [--model DIR] [--resume] [--real-gpu]
// npm run train -- --example-config
// The app's training session (src/train/session.ts) in Node through Dawn. Prints one JSON line per step and
// appends it to DIR/metrics.jsonl; writes DIR/config.json (the effective config), DIR/checkpoints/ (the newest
// checkpoint) and at the end DIR/adapter/ (PEFT) for a LoRA run or DIR/model/ for a full-parameter run.
// Ctrl-C stops after the current step with a checkpoint (exit 130); a second Ctrl-C exits at once.
// Exit codes: 0 done, 1 error, 2 usage, 130 interrupted.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Gpu } from '../gpu/gpu';
import { installNodeWebGpu } from '../gpu/node';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import type { Checkpoint } from '../train/checkpoints';
import type { RunStatus, StepMetrics, TrainEvent } from '../train/protocol';
import { type RunConfig, defaultRunConfig, describeModel, parseRunConfig, runConfigJson, validateConfig } from '../train/run-config';
import { type BaseModel, RunControl, runTraining } from '../train/session';
import { errorMessage } from '../util/errors';
import { CHECKPOINT_JSON, diskCheckpoints, writeAtomic } from './disk-checkpoints';
import { checkCheckpointFits, loadBaseFolder, writeRunResult } from './train-model';
import { UsageError, runMain } from './run-main';

const USAGE = [
  'usage: npm run train -- --config FILE --out DIR [--steps N] [--context T] [--batch B] [--model DIR] [--resume] [--real-gpu]',
  '       npm run train -- --out DIR --resume [--steps N]        (continues with DIR/config.json)',
  '       npm run train -- --example-config                       (prints a run config to start from)',
].join('\n');


/** Exit status of a run stopped by Ctrl-C. */
const INTERRUPTED = 130;

/** Fields that may differ between a run and its --resume: they change when the run ends or saves, not its steps. */
const RESUMABLE_CHANGES: (keyof RunConfig)[] = ['steps', 'checkpointEvery'];

function positiveInt(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${option} takes a whole number of at least 1, got '${text}'`);
  return Number(text);
}

async function readConfigFile(path: string): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`${path}: cannot read the run config (${errorMessage(error)})`);
  }
  return parseRunConfig(text, path);
}

/** The fields in which two configs differ that change the run. */
function runChanges(a: RunConfig, b: RunConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof RunConfig)[]);
  return [...keys].filter((k) => !RESUMABLE_CHANGES.includes(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** The step's metrics as one JSON line (snake_case, as metrics.jsonl stores them). */
function metricsLine(m: StepMetrics): string {
  return JSON.stringify({
    step: m.step, loss: m.loss, lr: m.lr, grad_norm: m.gradNorm, tokens_per_s: m.tokensPerSecond, step_ms: m.stepMs,
    shot_losses: m.shotLoss, task_losses: m.taskLoss,
  });
}

/**
 * Keeps the lines of metrics.jsonl up to `step` (and none cut short by a kill): what a resumed run appends to
 * then ends like an uninterrupted run's.
 */
function truncateMetrics(path: string, step: number): string {
  if (!existsSync(path)) return '';
  const stepOf = (line: string): number => {
    try {
      return (JSON.parse(line) as { step: number }).step;
    } catch {
      return Infinity;
    }
  };
  return readFileSync(path, 'utf8').split('\n').filter((line) => stepOf(line) <= step).map((line) => `${line}\n`).join('');
}

function progressBar(step: number, steps: number, loss: number): string {
  const width = 30;
  const done = Math.round((width * step) / steps);
  return `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] step ${step}/${steps} loss ${loss.toFixed(4)}`;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        config: { type: 'string' },
        out: { type: 'string' },
        steps: { type: 'string' },
        context: { type: 'string' },
        batch: { type: 'string' },
        model: { type: 'string' },
        resume: { type: 'boolean', default: false },
        'real-gpu': { type: 'boolean', default: false },
        'example-config': { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values['example-config']) {
    process.stdout.write(runConfigJson(defaultRunConfig()));
    return 0;
  }
  if (!values.out) throw new UsageError('give --out DIR');
  if (!values.config && !values.resume) throw new UsageError('give --config FILE (or --resume to continue the run in --out)');
  const out = resolve(values.out);
  const steps = positiveInt('steps', values.steps);
  const contextLength = positiveInt('context', values.context);
  const batchSize = positiveInt('batch', values.batch);
  const savedConfigPath = join(out, 'config.json');
  const checkpointDir = join(out, 'checkpoints');
  const checkpoints = diskCheckpoints(checkpointDir);

  const source = values.config ?? savedConfigPath;
  if (!values.config && !existsSync(savedConfigPath)) throw new Error(`${out} has no config.json: there is no run there to resume`);
  const config: RunConfig = { ...(await readConfigFile(source)), ...(steps && { steps }), ...(contextLength && { contextLength }), ...(batchSize && { batchSize }) };
  const check = validateConfig(config);
  if (check.errors.length > 0) throw new UsageError(`${source} with the command's options: ${check.errors.join(' ')}`);
  for (const warning of check.warnings) console.error(`note: ${warning}`);

  let checkpoint: Checkpoint | undefined;
  let metrics = '';
  const metricsPath = join(out, 'metrics.jsonl');
  if (values.resume) {
    checkpoint = await checkpoints.load('');
    if (!checkpoint) throw new Error(`${out} has no checkpoint to resume from (no ${join(checkpointDir, CHECKPOINT_JSON)})`);
    if (!existsSync(savedConfigPath)) throw new Error(`${out} has a checkpoint but no config.json: it cannot be resumed`);
    const changed = runChanges(await readConfigFile(savedConfigPath), config);
    if (changed.length > 0) {
      throw new Error(`${savedConfigPath} differs from this config in ${changed.join(', ')}: resume with the run's own config, or train into a new --out`);
    }
    metrics = truncateMetrics(metricsPath, checkpoint.step);
  } else if (existsSync(join(checkpointDir, CHECKPOINT_JSON))) {
    throw new Error(`${out} already holds a run with a checkpoint: add --resume to continue it, or choose another --out`);
  }

  const embeddedDir = join('public', EMBEDDED_MODEL_PATH);
  const modelDir = values.model ?? (config.model.source === 'embedded' ? embeddedDir : undefined);
  if (!modelDir) {
    const where = config.model.source === 'cached' ? "the browser's model cache" : "a run's checkpoint in the browser";
    throw new Error(`the config's model (${describeModel(config.model)}) is in ${where}, which the CLI cannot read: pass --model DIR, a folder with config.json + model.safetensors + tokenizer files, or a model.gguf`);
  }
  if (!existsSync(modelDir)) {
    throw new Error(modelDir === embeddedDir ? `${embeddedDir} not found: run from the repository root` : `--model ${modelDir}: no such folder`);
  }
  if (values.model && config.model.source !== 'cached') console.error(`note: base model from ${values.model}, in place of the config's ${describeModel(config.model)}`);
  const baseName = values.model ? basename(resolve(values.model)) : describeModel(config.model);

  await mkdir(out, { recursive: true });
  await writeAtomic(savedConfigPath, runConfigJson(config));
  await writeFile(metricsPath, metrics);

  const control = new RunControl();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(INTERRUPTED);
    console.error('\nstopping after this step with a checkpoint (Ctrl-C again to quit at once)');
    control.stop();
  });

  const tty = process.stderr.isTTY === true;
  let status = 'idle' as RunStatus;
  let last: StepMetrics | undefined;
  let base: BaseModel | undefined;
  const emit = (event: TrainEvent) => {
    if (event.type === 'status') {
      status = event.status;
      if (event.message && tty) console.error(event.message);
    } else if (event.type === 'step') {
      last = event.metrics;
      const line = `${metricsLine(event.metrics)}\n`;
      appendFileSync(metricsPath, line);
      process.stdout.write(line);
      if (tty) process.stderr.write(progressBar(event.metrics.step, config.steps, event.metrics.loss));
    }
  };

  const webGpu = installNodeWebGpu();
  const openGpu = () => Gpu.create(webGpu);
  let gpu = await openGpu();
  try {
    await runTraining({ id: basename(out), config }, {
      gpu,
      // A lost device (a driver reset) is replaced and the run goes on from its last checkpoint.
      reopenGpu: async () => (gpu = await openGpu()),
      checkpoints,
      emit,
      loadModel: async (_config, _onProgress, device) => {
        base = await loadBaseFolder(device, modelDir);
        if (config.contextLength > base.spec.maxPositionEmbeddings) {
          throw new Error(`the model takes at most ${base.spec.maxPositionEmbeddings} tokens of context, the run asks for ${config.contextLength}`);
        }
        if (checkpoint) checkCheckpointFits(base, config.lora, checkpoint, join(checkpointDir, CHECKPOINT_JSON));
        return base;
      },
    }, control);
    if (tty && last) process.stderr.write('\n');
    const saved = await checkpoints.load('');
    if (status !== 'done') {
      console.error(`interrupted at step ${saved?.step ?? 0}: ${saved ? `checkpoint in ${checkpointDir}; continue with --resume` : 'no checkpoint yet'}`);
      return INTERRUPTED;
    }
    if (!saved || !base) throw new Error('the run ended without a checkpoint');
    const final = last ?? lastMetrics(metricsPath);
    const written = await writeRunResult(out, {
      config, checkpoint: saved, base, baseName, modelDir,
      final: { loss: final?.loss ?? null, taskLoss: final?.taskLoss ?? {} },
    });
    console.error(`done: step ${saved.step}, loss ${final?.loss.toFixed(4) ?? 'n/a'}; wrote ${written}`);
    return 0;
  } finally {
    gpu.device.destroy();
  }
}

/** The last line of metrics.jsonl, for a resumed run that had no steps left to take. */
function lastMetrics(path: string): Pick<StepMetrics, 'loss' | 'taskLoss'> | undefined {
  const lines = readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
  if (lines.length === 0) return undefined;
  const line = JSON.parse(lines[lines.length - 1]) as { loss: number; task_losses: Record<string, number> };
  return { loss: line.loss, taskLoss: line.task_losses };
}

runMain(main, USAGE);
