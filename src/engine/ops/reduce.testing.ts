// Kernels with workgroup reductions run two ways; their GPU tests check both against the CPU reference.
import type { Gpu } from '../../gpu/gpu';
import { testGpu } from '../../gpu/gpu.testing';
import { usesSubgroups, type ReduceOptions } from './reduce';

export interface ReductionPath extends ReduceOptions {
  name: string;
}

export const REDUCTION_PATHS: ReductionPath[] = [
  { name: 'subgroups', noSubgroups: false },
  { name: 'workgroup memory', noSubgroups: true },
];

/** The test device, or a skipped test where the path needs subgroups the device lacks. */
export async function gpuFor(path: ReductionPath, skip: (note?: string) => void): Promise<Gpu> {
  const gpu = await testGpu();
  if (!path.noSubgroups && !usesSubgroups(gpu)) skip('no subgroups (or no subgroup_id builtin) on this adapter');
  return gpu;
}
