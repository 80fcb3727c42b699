// The device benchmark's shapes (those of the PyTorch + PEFT table in ../shared/DEVICE.md, with its figures),
// the result of one shape, and the final table that puts ours beside theirs.
import { formatBytes } from '../util/format';

export interface DeviceShape {
  /** The name --shapes takes and the table shows. */
  name: string;
  /** A key of MODEL_SHAPES. */
  shape: string;
  seq: number;
  recompute: boolean;
  /** PyTorch 2.11 + PEFT 0.21 on an H100 (DEVICE.md); null for the tiny shapes. */
  reference: { tokensPerS: number; peakGiB: number } | null;
}

const GiB = 1024 ** 3;

/** DEVICE.md's table, in its order. */
export const DEVICE_SHAPES: DeviceShape[] = [
  { name: 'tinyllama-1.1b@4096', shape: 'tinyllama-1.1b', seq: 4096, recompute: false, reference: { tokensPerS: 27356, peakGiB: 15.0 } },
  { name: 'llama-3.2-1b@2048', shape: 'llama-3.2-1b', seq: 2048, recompute: false, reference: { tokensPerS: 13475, peakGiB: 10.7 } },
  { name: 'llama-3.2-1b@8192', shape: 'llama-3.2-1b', seq: 8192, recompute: false, reference: { tokensPerS: 29167, peakGiB: 35.5 } },
  { name: 'llama-3.2-1b@16384+recompute', shape: 'llama-3.2-1b', seq: 16384, recompute: true, reference: { tokensPerS: 20235, peakGiB: 31.0 } },
  { name: 'mistral-7b@4096', shape: 'mistral-7b', seq: 4096, recompute: false, reference: { tokensPerS: 8085, peakGiB: 52.1 } },
  { name: 'mistral-7b@8192+recompute', shape: 'mistral-7b', seq: 8192, recompute: true, reference: { tokensPerS: 5638, peakGiB: 27.3 } },
  { name: 'llama-3-8b@4096', shape: 'llama-3-8b', seq: 4096, recompute: false, reference: { tokensPerS: 7882, peakGiB: 58.4 } },
];

/** For SwiftShader: the script end to end in seconds. */
export const TINY_DEVICE_SHAPES: DeviceShape[] = [
  { name: 'tiny@32', shape: 'tiny', seq: 32, recompute: false, reference: null },
  { name: 'tiny@64+recompute', shape: 'tiny', seq: 64, recompute: true, reference: null },
];

/** The shapes --shapes names (comma-separated, from the tiny or the device set), or the whole set. */
export function selectShapes(list: string | undefined, tiny: boolean): DeviceShape[] {
  const set = tiny ? TINY_DEVICE_SHAPES : DEVICE_SHAPES;
  if (!list) return set;
  const all = [...DEVICE_SHAPES, ...TINY_DEVICE_SHAPES];
  return list.split(',').map((name) => {
    const shape = all.find((s) => s.name === name.trim());
    if (!shape) throw new Error(`unknown shape ${name}; one of: ${all.map((s) => s.name).join(', ')}`);
    return shape;
  });
}

export type ShapeStatus = 'ok' | 'does not fit' | 'failed' | 'skipped';

/** One shape's outcome: the JSON line a shape's process prints, or what the parent makes of its failure. */
export interface DeviceShapeResult {
  name: string;
  status: ShapeStatus;
  tokens_per_s: number | null;
  step_ms: number | null;
  /** What the engine allocated at its peak. */
  peak_bytes: number | null;
  /** What src/engine/plan.ts says the step needs. */
  plan_bytes: number | null;
  adapter?: string;
  /** Which matmul the layers used (the tensor cores, or f32 tiles and why). */
  matmul?: string;
  attempts?: number;
  message?: string;
}

/** The result line among a shape process's output lines, if it printed one. */
export function parseShapeResult(stdout: string, name: string): DeviceShapeResult | null {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line) as DeviceShapeResult;
      if (value.name === name && typeof value.status === 'string') return value;
    } catch {
      // a line cut short by an abort
    }
  }
  return null;
}


const COLUMNS = ['shape', 'tokens/s', 'step ms', 'peak (engine)', 'plan', 'PyTorch tokens/s', 'PyTorch peak', 'tokens/s ratio', 'memory ratio', 'status'];

/** One row per shape: ours, PyTorch + PEFT's, ours / theirs. */
export function tableRows(results: DeviceShapeResult[], shapes: DeviceShape[]): string[][] {
  return results.map((r) => {
    const ref = shapes.find((s) => s.name === r.name)?.reference ?? null;
    const speed = r.tokens_per_s !== null && ref ? (r.tokens_per_s / ref.tokensPerS).toFixed(2) : '-';
    const memory = r.peak_bytes !== null && ref && r.status === 'ok' ? (r.peak_bytes / GiB / ref.peakGiB).toFixed(2) : '-';
    const status = r.status === 'ok' ? 'ok' : `${r.status}${r.message ? `: ${r.message.split('\n')[0].slice(0, 160)}` : ''}`;
    return [
      r.name, r.tokens_per_s === null ? '-' : Math.round(r.tokens_per_s).toLocaleString('en-US'),
      r.step_ms === null ? '-' : r.step_ms.toFixed(1), r.peak_bytes === null ? '-' : formatBytes(r.peak_bytes), r.plan_bytes === null ? '-' : formatBytes(r.plan_bytes),
      ref ? ref.tokensPerS.toLocaleString('en-US') : '-', ref ? `${ref.peakGiB.toFixed(1)} GiB` : '-', speed, memory, status,
    ];
  });
}

/** The final table, as Markdown (it reads as plain text too). */
export function formatTable(results: DeviceShapeResult[], shapes: DeviceShape[]): string {
  const rows = tableRows(results, shapes);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(COLUMNS), line(COLUMNS.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A short line for a result as soon as it is in. */
export function describeResult(r: DeviceShapeResult): string {
  if (r.status !== 'ok') return `${r.name}: ${r.status}${r.message ? ` (${r.message})` : ''}`;
  return `${r.name}: ${Math.round(r.tokens_per_s ?? 0)} tokens/s, ${r.step_ms?.toFixed(1)} ms/step, peak ${formatBytes(r.peak_bytes ?? 0)}` +
    ` (plan ${formatBytes(r.plan_bytes ?? 0)})${r.attempts && r.attempts > 1 ? `, attempt ${r.attempts}` : ''}${r.matmul ? `; matmul: ${r.matmul}` : ''}`;
}
