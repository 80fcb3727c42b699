// npm run export-recipe (the built entry) on the GPU: parity.json holds the loss of the first step that a training
// session of the same run config computes; bad input exits without writing.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildCli, runCli } from './cli.testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/gpu.testing';
import { EMBEDDED_MODEL_PATH } from '../model/embedded';
import { loadModelFolder } from '../model/load';
import { tensorsOf } from '../model/safetensors';
import type { Checkpoint } from '../train/checkpoints';
import type { StepMetrics } from '../train/protocol';
import { type RunConfig, parseRunConfig, runConfigJson } from '../train/run-config';
import { RunControl, runTraining } from '../train/session';

const run = promisify(execFile);
let dir: string;
let entry: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manyicl-recipe-cli-'));
  entry = await buildCli('export-recipe');
}, 180_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const exportRecipeCli = (...args: string[]) => runCli(entry, args);

/** Step 1's loss of a training session of `config` on the embedded model. */
async function sessionFirstLoss(config: RunConfig): Promise<number> {
  const folder = await loadModelFolder(async (name) => new Uint8Array(await readFile(join('public', EMBEDDED_MODEL_PATH, name))));
  const control = new RunControl();
  let first: StepMetrics | undefined;
  const saved = new Map<string, Checkpoint>();
  await runTraining({ id: 'parity', config: { ...config, steps: 1 } }, {
    gpu: await testGpu(),
    loadModel: async () => ({ spec: folder.spec, tokenizer: folder.tokenizer, tensors: tensorsOf(folder.weights) }),
    checkpoints: { load: async (id) => saved.get(id), save: async (c) => void saved.set(c.runId, c) },
    emit: (e) => {
      if (e.type === 'step' && e.metrics.step === 1) first = e.metrics;
    },
  }, control);
  if (!first) throw new Error('the session made no step');
  return first.loss;
}

describe('npm run export-recipe', () => {
  for (const objective of ['manyicl', 'last-answer'] as const) {
    it(`${objective}: parity.json holds the first-step loss a training session computes`, { timeout: 300_000 }, async () => {
      const config = parseRunConfig(JSON.stringify({
        mode: 'lora', objective, contextLength: 64, batchSize: 2, gradAccumulation: 2, steps: 3, seed: 11, warmupSteps: 1,
        lora: { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'up_proj'] },
      }));
      const file = join(dir, `${objective}.json`);
      await writeFile(file, runConfigJson(config));
      const out = join(dir, objective);
      const result = await exportRecipeCli('--config', file, '--out', out, '--examples', '1');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const parity = JSON.parse(await readFile(join(out, 'parity.json'), 'utf8'));
      expect(JSON.parse(result.stdout)).toMatchObject({ out, rows: 12, hubRepo: null, engineLoss: parity.engine_loss });
      const rows = (await readFile(join(out, 'data/train.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
      const masked = rows.slice(0, 4).reduce((n, r) => n + r.assistant_masks.reduce((a: number, b: number) => a + b, 0), 0);
      expect(parity.target_tokens).toBe(masked);
      // The same rows through a float64 numpy Llama with HF's shift: the mask is aligned as HF reads it.
      const numpy = JSON.parse((await run('python3', ['src/cli/recipe-numpy-loss.testing.py', out])).stdout);
      expect(numpy.tokens).toBe(masked);
      expect(Math.abs(numpy.loss - parity.engine_loss) / numpy.loss).toBeLessThan(1e-5);
      const session = await sessionFirstLoss(config);
      expect(Math.abs(parity.engine_loss - session) / session).toBeLessThan(1e-6);
    });
  }

  it('exits 2 for a run whose model is not on disk, 1 for a full-parameter run, and writes nothing', { timeout: 120_000 }, async () => {
    const cached = join(dir, 'cached.json');
    await writeFile(cached, JSON.stringify({ mode: 'lora', model: { source: 'cached', id: 'x', name: 'Llama' } }));
    const noModel = await exportRecipeCli('--config', cached, '--out', join(dir, 'bad1'));
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/give --model DIR/);
    const full = join(dir, 'full.json');
    await writeFile(full, JSON.stringify({ mode: 'full' }));
    const refused = await exportRecipeCli('--config', full, '--out', join(dir, 'bad2'), '--no-parity');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/only LoRA runs/);
    expect((await readdir(dir)).filter((n) => n.startsWith('bad') || n.includes('.partial'))).toEqual([]);
  });
});
