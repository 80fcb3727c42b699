// The device benchmark end to end on this machine: `npm run bench:device -- --bundle-only` makes the bundle,
// and scripts/device-bench.sh runs it with this machine's node and dawn.node on SwiftShader (DEVICE_BENCH_LOCAL=1)
// on the tiny shapes, each in its own process, then the kernel benchmark, then the table.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TINY_DEVICE_SHAPES } from './device';

const root = new URL('../..', import.meta.url).pathname;

describe('scripts/device-bench.sh', () => {
  it('runs the prepared bundle on the tiny shapes and prints the table', () => {
    execFileSync('node', ['scripts/prepare-device-bench.mjs', '--bundle-only'], { cwd: root, stdio: 'pipe' });
    const out = execFileSync('bash', ['scripts/device-bench.sh', '--tiny', '--budget', '200'], {
      cwd: root, encoding: 'utf8', env: { ...process.env, DEVICE_BENCH_LOCAL: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Each result as soon as it is in, then a kernel row, then the table with one row per shape.
    for (const shape of TINY_DEVICE_SHAPES) expect(out).toMatch(new RegExp(`^${shape.name.replace('+', '\\+')}: \\d+ tokens/s`, 'm'));
    expect(out).toMatch(/^ {2}matmul M=\d+ N=\d+ K=\d+: [\d.]+ ms/m);
    const table = out.slice(out.indexOf('| shape |')).split('\n').filter((line) => line.startsWith('| '));
    expect(table[0]).toBe('| shape | tokens/s | step ms | peak (engine) | plan | PyTorch tokens/s | PyTorch peak | tokens/s ratio | memory ratio | status |');
    const rows = table.slice(2).map((line) => line.slice(2, -2).split(' | '));
    expect(rows.map((r) => r[0])).toEqual(TINY_DEVICE_SHAPES.map((s) => s.name));
    for (const row of rows) {
      expect(Number(row[1].replace(/,/g, ''))).toBeGreaterThan(0);
      expect(row[3]).toMatch(/^[\d.]+ (KiB|MiB)$/);
      expect(row[4]).toMatch(/^[\d.]+ (KiB|MiB)$/);
      expect(row[9]).toBe('ok');
    }
    expect(out).toMatch(/^kernels: \d+ rows, all within tolerance$/m);
  }, 240_000);
});
