import type { Gpu } from '../../gpu/gpu';
import sharedPrelude from '../../../kernels/reduce_shared.wgsl?raw';
import subgroupPrelude from '../../../kernels/reduce_subgroup.wgsl?raw';

export interface ReduceOptions {
  /** Use the workgroup-memory reductions even where subgroups exist (tests compare both paths). */
  noSubgroups?: boolean;
}

/** Whether kernels on this device reduce with subgroup operations. */
export function usesSubgroups(gpu: Gpu, opts: ReduceOptions = {}): boolean {
  return gpu.features.subgroups && gpu.features.subgroupId && !opts.noSubgroups;
}

/**
 * The kernel's source behind the reduction prelude that suits the device: `workgroup_sum(value, lane)` and
 * the `Lane` builtins, with subgroup operations (`enable subgroups;`) where the device has them.
 */
export function withReductions(gpu: Gpu, source: string, opts: ReduceOptions = {}): string {
  const subgroups = usesSubgroups(gpu, opts);
  // One string per (source, prelude): the pipeline cache then finds it without rehashing a new string.
  const made = subgroups ? withSubgroupPrelude : withSharedPrelude;
  let code = made.get(source);
  if (code === undefined) {
    code = `${subgroups ? subgroupPrelude : sharedPrelude}\n${source}`;
    made.set(source, code);
  }
  return code;
}

const withSubgroupPrelude = new Map<string, string>();
const withSharedPrelude = new Map<string, string>();
