// npm run train (the built entry) on the embedded model: a run stopped with Ctrl-C (SIGINT) and resumed ends byte
// for byte where an uninterrupted run does; bad input exits 1 or 2. (A full-parameter run's files: train-model.test.ts;
// its training and resuming: src/train/session.gpu.test.ts, the same session code.)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli } from './cli.testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRunConfig, parseRunConfig, runConfigJson } from '../train/run-config';
import { diskCheckpoints } from './disk-checkpoints';

let dir: string;
let entry: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manyicl-train-'));
  // Inside the repository, so that the bundle's external packages resolve from node_modules.
  entry = await buildCli('train');
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Exit { code: number | null; stdout: string; stderr: string }

/** Runs the trainer; `onStdout` sees stdout as it grows and may signal the child. */
function train(args: string[], onStdout?: (text: string, child: ChildProcess) => void): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
/** A metrics line without its timings, which differ from run to run. */
const untimed = ({ tokens_per_s: _t, step_ms: _s, ...rest }: Record<string, unknown>) => rest;

async function writeConfig(name: string, over: object): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, runConfigJson({ ...defaultRunConfig(), contextLength: 48, batchSize: 1, warmupSteps: 1, checkpointEvery: 10, ...over }));
  return path;
}

describe('npm run train', () => {
  it('--example-config prints a run config that parseRunConfig reads', async () => {
    const { code, stdout } = await train(['--example-config']);
    expect(code).toBe(0);
    expect(parseRunConfig(stdout)).toEqual(defaultRunConfig());
  });

  it('lora: stopped by SIGINT (exit 130, a checkpoint at that step) and resumed, it ends byte for byte as an uninterrupted run', { timeout: 150_000 }, async () => {
    const config = await writeConfig('lora.json', { mode: 'lora', steps: 3 });
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];

    const whole = await train(['--config', config, '--out', a]);
    expect(whole.code).toBe(0);
    expect(lines(whole.stdout).map((l) => l.step)).toEqual([1, 2, 3]);
    const first = lines(whole.stdout)[0];
    expect(Object.keys(first).sort()).toEqual(['grad_norm', 'loss', 'lr', 'shot_losses', 'step', 'step_ms', 'task_losses', 'tokens_per_s']);
    expect((first.shot_losses as number[]).length).toBeGreaterThan(1);
    expect(whole.stderr).toMatch(/done: step 3, .*wrote .*adapter/);
    expect(whole.stderr).not.toMatch(/\[#/); // no progress bar when stderr is not a terminal
    expect(await readFile(join(a, 'metrics.jsonl'), 'utf8')).toBe(whole.stdout);

    let signalled = false;
    const stopped = await train(['--config', config, '--out', b], (text, child) => {
      if (!signalled && text.includes('\n')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    expect(stopped.code).toBe(130);
    const stopStep = lines(stopped.stdout).at(-1)!.step as number;
    expect(stopStep).toBeLessThan(3);
    expect(stopped.stderr).toContain(`interrupted at step ${stopStep}`);
    expect((await diskCheckpoints(join(b, 'checkpoints')).load(''))?.step).toBe(stopStep);
    expect(await readdir(b)).not.toContain('adapter');

    // A step logged after the checkpoint (a run killed before it saved): --resume drops it and logs it again.
    await writeFile(join(b, 'metrics.jsonl'), `${stopped.stdout}${JSON.stringify({ step: stopStep + 1, loss: 99 })}\n`);
    const resumed = await train(['--out', b, '--resume']);
    expect(resumed.code).toBe(0);
    expect(lines(resumed.stdout).map((l) => l.step)).toEqual(Array.from({ length: 3 - stopStep }, (_, i) => stopStep + 1 + i));

    const [ca, cb] = await Promise.all([a, b].map((d) => diskCheckpoints(join(d, 'checkpoints')).load('')));
    expect(cb!.step).toBe(3);
    expect(cb!.params).toEqual(ca!.params);
    expect(cb!.m).toEqual(ca!.m);
    expect(cb!.v).toEqual(ca!.v);
    expect(cb!.cursor).toEqual(ca!.cursor);
    const arrays = async (d: string) => readFile(join(d, 'checkpoints', 'step-000003.safetensors'));
    expect(await arrays(b)).toEqual(await arrays(a));
    for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'README.md']) {
      expect(await readFile(join(b, 'adapter', f)), f).toEqual(await readFile(join(a, 'adapter', f)));
    }
    const metrics = async (d: string) => lines(await readFile(join(d, 'metrics.jsonl'), 'utf8')).map(untimed);
    expect(await metrics(b)).toEqual(await metrics(a));
    expect(await readFile(join(b, 'config.json'), 'utf8')).toBe(await readFile(join(a, 'config.json'), 'utf8'));

    // The run is finished; resuming it for more steps than its own is refused only when something else changed.
    const changed = await train(['--out', b, '--resume', '--context', '64']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/config\.json differs from this config in contextLength/);
  });

  it('exits 1 or 2 naming the problem for bad input', { timeout: 60_000 }, async () => {
    const missing = await train(['--config', join(dir, 'nope.json'), '--out', join(dir, 'x1')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.json: cannot read the run config/);

    const badPath = join(dir, 'bad.json');
    await writeFile(badPath, JSON.stringify({ mode: 'lora', batchSize: 'four' }));
    const bad = await train(['--config', badPath, '--out', join(dir, 'x2')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.json: batchSize must be a number/);

    const empty = join(dir, 'empty');
    await mkdir(empty);
    const resume = await train(['--config', await writeConfig('ok.json', { mode: 'lora' }), '--out', empty, '--resume']);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toMatch(/empty has no checkpoint to resume from/);

    const usage = await train(['--config', badPath]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/give --out DIR\nusage: npm run train/);
    const badSteps = await train(['--config', badPath, '--out', empty, '--steps', 'ten']);
    expect(badSteps.code).toBe(2);
    expect(badSteps.stderr).toMatch(/--steps takes a whole number/);
    const cached = await writeConfig('cached.json', { mode: 'lora', model: { source: 'cached', id: 'x', name: 'Llama-3.2-1B' } });
    const noModel = await train(['--config', cached, '--out', join(dir, 'x3')]);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toMatch(/Llama-3\.2-1B\) is in the browser's model cache.*pass --model DIR/);
    expect(await readdir(dir)).not.toContain('x1');
  });
});
