import type { Gpu } from '../../gpu/gpu';

/**
 * A grid of at least `count` workgroups laid out along one dimension, split over x and y when `count`
 * passes the per-dimension limit (65535). The kernel recovers the linear workgroup index as
 * `wg.y * num_workgroups.x + wg.x` and must skip indices >= count (the grid may hold a few more).
 */
export function splitWorkgroups(gpu: Gpu, count: number): [number, number] {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  if (y > max) throw new Error(`${count} workgroups exceed ${max} x ${max}`);
  return [Math.ceil(count / y), y];
}

/** The split grid for `items` independent items, `workgroupSize` items per workgroup. */
export function workgroupsFor(gpu: Gpu, items: number, workgroupSize: number): [number, number] {
  return splitWorkgroups(gpu, Math.ceil(items / workgroupSize));
}
