import { describe, expect, it } from 'vitest';
import { maxRelError } from '../../gpu/gpu.testing';
import { randomArray } from '../../util/random';
import { withReductions } from './reduce';
import { gpuFor, REDUCTION_PATHS } from './reduce.testing';

// Each workgroup of 128 writes workgroup_sum and workgroup_max of its values, and per invocation group_sum over
// its group of WIDTH lanes, at the place of the value lane_group / lane_in_group name (so both must be a
// permutation).
const kernel = (width: number) => `
const REDUCE_WG: u32 = 128u;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;
@group(0) @binding(3) var<storage, read_write> groups: array<f32>;
@group(0) @binding(4) var<storage, read_write> maxima: array<f32>;
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
  let at = wg.x * 128u + lane_group(lane, ${width}u) * ${width}u + lane_in_group(lane, ${width}u);
  let total = workgroup_sum(x[at], lane);
  let largest = workgroup_max(x[at], lane);
  if (lane.li == 0u) { sums[wg.x] = total; maxima[wg.x] = largest; }
  groups[at] = group_sum(x[at], lane, ${width}u);
}`;

describe.each(REDUCTION_PATHS)('reduction prelude through $name', (path) => {
  for (const width of [4, 8]) {
    it(`workgroup_sum, workgroup_max and group_sum (width ${width}) over 3 workgroups`, async ({ skip }) => {
      const gpu = await gpuFor(path, skip);
      if (!path.noSubgroups && gpu.features.subgroupSizes[0] < width) skip(`subgroups of ${gpu.features.subgroupSizes[0]} lanes`);
      const x = randomArray(3 * 128, width);
      const [gx, gs, gg, gm] = [gpu.upload('x', x), gpu.buffer('sums', 3 * 4), gpu.buffer('groups', x.length * 4), gpu.buffer('maxima', 3 * 4)];
      const pipeline = gpu.pipeline(withReductions(gpu, kernel(width), path));
      await gpu.submit((enc) => gpu.run(enc, { pipeline, buffers: [gx, gs, gg, gm], workgroups: [3] }));
      const [sums, groups, maxima] = [await gpu.readF32(gs), await gpu.readF32(gg), await gpu.readF32(gm)];
      gpu.destroy(gx, gs, gg, gm);
      expect(Array.from(maxima)).toEqual([0, 1, 2].map((w) => Math.max(...x.subarray(w * 128, (w + 1) * 128))));
      const wantSums = [0, 1, 2].map((w) => x.subarray(w * 128, (w + 1) * 128).reduce((a, v) => a + v, 0));
      expect(maxRelError(sums, wantSums)).toBeLessThan(1e-5);
      const wantGroups = Array.from(x, (_, i) => {
        const first = i - (i % width);
        return x.subarray(first, first + width).reduce((a, v) => a + v, 0);
      });
      expect(maxRelError(groups, wantGroups)).toBeLessThan(1e-5);
    });
  }
});
