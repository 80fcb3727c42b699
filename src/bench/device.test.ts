import { describe, expect, it } from 'vitest';
import { DEVICE_SHAPES, type DeviceShapeResult, formatTable, parseShapeResult, selectShapes } from './device';
import { MODEL_SHAPES } from './shapes';

const GiB = 1024 ** 3;

describe('device benchmark', () => {
  it('has DEVICE.md shapes, all of them bench shapes', () => {
    expect(DEVICE_SHAPES.map((s) => s.name)).toEqual([
      'tinyllama-1.1b@4096', 'llama-3.2-1b@2048', 'llama-3.2-1b@8192', 'llama-3.2-1b@16384+recompute',
      'mistral-7b@4096', 'mistral-7b@8192+recompute', 'llama-3-8b@4096',
    ]);
    for (const s of DEVICE_SHAPES) expect(MODEL_SHAPES[s.shape]).toBeDefined();
    expect(selectShapes('mistral-7b@4096, tiny@32', false).map((s) => s.name)).toEqual(['mistral-7b@4096', 'tiny@32']);
    expect(() => selectShapes('mistral-7b', false)).toThrow(/unknown shape mistral-7b; one of: tinyllama/);
  });

  it('finds the result line among the output of a shape process', () => {
    const ok: DeviceShapeResult = { name: 'tiny@32', status: 'ok', tokens_per_s: 50, step_ms: 1, peak_bytes: 10, plan_bytes: 12 };
    expect(parseShapeResult(`noise\n${JSON.stringify(ok)}\n{"name":"tiny@32","sta`, 'tiny@32')).toEqual(ok);
    expect(parseShapeResult(JSON.stringify(ok), 'tiny@64+recompute')).toBeNull();
  });

  it('puts ours beside PyTorch + PEFT, with the ratios', () => {
    const results: DeviceShapeResult[] = [
      { name: 'mistral-7b@4096', status: 'ok', tokens_per_s: 4042.5, step_ms: 1013.2, peak_bytes: 26.05 * GiB, plan_bytes: 26.1 * GiB },
      { name: 'llama-3-8b@4096', status: 'does not fit', tokens_per_s: null, step_ms: null, peak_bytes: null, plan_bytes: 90 * GiB, message: 'too small' },
    ];
    expect(formatTable(results, DEVICE_SHAPES).split('\n').slice(2)).toEqual([
      '| mistral-7b@4096 | 4,043 | 1013.2 | 26.1 GiB | 26.1 GiB | 8,085 | 52.1 GiB | 0.50 | 0.50 | ok |',
      '| llama-3-8b@4096 | - | - | - | 90 GiB | 7,882 | 58.4 GiB | - | - | does not fit: too small |',
    ]);
  });
});
