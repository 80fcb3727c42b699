// The recipe's accelerate configs, as `accelerate config` writes them (block-style YAML of plain scalars), for one
// GPU, several GPUs with DDP, FSDP2 and DeepSpeed ZeRO-3. train.py takes the process count from WORLD_SIZE and
// makes up each optimizer step of the run with gradient accumulation.
import type { ModelSpec } from '../../engine/spec';

export const ACCELERATE_CONFIGS = ['single_gpu', 'multi_gpu', 'fsdp2', 'deepspeed_zero3'] as const;
export type AccelerateConfig = (typeof ACCELERATE_CONFIGS)[number];

const COMMON_TOP = ['compute_environment: LOCAL_MACHINE', 'debug: false'];
const COMMON_BOTTOM = (processes: number) => [
  "downcast_bf16: 'no'",
  'machine_rank: 0',
  'main_training_function: main',
  'mixed_precision: bf16',
  'num_machines: 1',
  `num_processes: ${processes}`,
  'rdzv_backend: static',
  'same_network: true',
  'use_cpu: false',
];

/** Keys in the order `accelerate config` writes them (alphabetical), nested blocks indented by two spaces. */
function yaml(lines: string[]): string {
  const top = (line: string) => line.split(':')[0];
  const blocks: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('  ')) blocks[blocks.length - 1].push(line);
    else blocks.push([line]);
  }
  blocks.sort((a, b) => (top(a[0]) < top(b[0]) ? -1 : 1));
  return `${blocks.flat().join('\n')}\n`;
}

export function accelerateConfig(kind: AccelerateConfig, spec: Pick<ModelSpec, 'arch'>): string {
  const layer = spec.arch === 'mistral' ? 'MistralDecoderLayer' : 'LlamaDecoderLayer';
  switch (kind) {
    case 'single_gpu':
      return yaml([...COMMON_TOP, "distributed_type: 'NO'", 'gpu_ids: all', ...COMMON_BOTTOM(1)]);
    case 'multi_gpu':
      return yaml([...COMMON_TOP, 'distributed_type: MULTI_GPU', 'gpu_ids: all', ...COMMON_BOTTOM(8)]);
    case 'fsdp2':
      return yaml([
        ...COMMON_TOP,
        'distributed_type: FSDP',
        'fsdp_config:',
        '  fsdp_activation_checkpointing: false',
        '  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP',
        '  fsdp_cpu_ram_efficient_loading: true',
        '  fsdp_offload_params: false',
        '  fsdp_reshard_after_forward: true',
        '  fsdp_state_dict_type: SHARDED_STATE_DICT',
        `  fsdp_transformer_layer_cls_to_wrap: ${layer}`,
        '  fsdp_version: 2',
        ...COMMON_BOTTOM(8),
      ]);
    case 'deepspeed_zero3':
      return yaml([
        ...COMMON_TOP,
        'deepspeed_config:',
        '  deepspeed_multinode_launcher: standard',
        '  offload_optimizer_device: none',
        '  offload_param_device: none',
        '  zero3_init_flag: true',
        '  zero3_save_16bit_model: true',
        '  zero_stage: 3',
        'distributed_type: DEEPSPEED',
        ...COMMON_BOTTOM(8),
      ]);
  }
}
