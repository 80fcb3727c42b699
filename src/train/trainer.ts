// createTrainer: the one way to put a trainer together. Session, evaluation, benchmarks and the reference
// runner all build Model + LoRA adapter or full parameters + Trainer through it.
import { FullParameters } from '../engine/full';
import { LoraAdapter } from '../engine/lora';
import type { Model } from '../engine/weights';
import type { ActivationDtype } from '../engine/activations';
import type { AdamWSettings } from '../engine/ops/adamw';
import type { LoraConfig } from '../engine/peft';
import { type Objective, type Trainable, Trainer } from '../engine/trainer';
import type { Gpu } from '../gpu/gpu';
import { lossObjective } from './objectives';
import { type RunConfig, activationDtype } from './run-config';

export interface TrainerConfig {
  /** 'full' trains every weight of the model; 'lora' trains an adapter on the frozen base. */
  mode: 'full' | 'lora';
  lora: LoraConfig;
  objective: Objective;
  adamw: AdamWSettings;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxGradNorm: number;
  recompute: boolean;
  /** How the engine stores saved layer inputs (f32, or packed f16); default f32. */
  activations?: ActivationDtype;
  /** Seed of PEFT's default LoRA init; without it the adapter starts at zero until the caller loads weights. */
  seed?: number;
}

export interface RunTrainer<T extends Trainable = Trainable> {
  model: Model;
  trainable: T;
  trainer: Trainer;
  /** Frees the trainer, the trainable weights and the model. */
  destroy(): void;
}

/**
 * A trainer on `model`, which it then owns: destroy() frees the model too, also when this throws. A LoRA trainer
 * may borrow the model instead (`borrowModel`): LoRA leaves the base weights as they are, so several adapters in
 * turn can train on one model on the GPU, which the caller frees.
 */
export function createTrainer(gpu: Gpu, model: Model, config: TrainerConfig & { mode: 'lora' }, options?: { borrowModel?: boolean }): RunTrainer<LoraAdapter>;
export function createTrainer(gpu: Gpu, model: Model, config: TrainerConfig, options?: { borrowModel?: boolean }): RunTrainer;
export function createTrainer(gpu: Gpu, model: Model, config: TrainerConfig, options: { borrowModel?: boolean } = {}): RunTrainer {
  const borrowed = options.borrowModel ?? false;
  if (borrowed && config.mode === 'full') throw new Error('full-parameter training changes the model: it cannot train on a borrowed one');
  let trainable: Trainable;
  try {
    trainable = config.mode === 'full' ? new FullParameters(gpu, model) : new LoraAdapter(gpu, model.spec, config.lora);
  } catch (error) {
    if (!borrowed) model.destroy();
    throw error;
  }
  if (trainable instanceof LoraAdapter && config.seed !== undefined) trainable.initialize(config.seed);
  const { objective, adamw, maxGradNorm, recompute, activations } = config;
  const trainer = new Trainer(model, trainable, { objective, adamw, maxGradNorm, recompute, activations });
  return {
    model, trainable, trainer,
    destroy: () => {
      trainer.destroy();
      trainable.destroy();
      if (!borrowed) model.destroy();
    },
  };
}

/** A run's trainer: its objective, AdamW with PyTorch's default betas and eps, clipping and recomputation. */
export function trainerConfig(config: RunConfig): TrainerConfig {
  return {
    mode: config.mode,
    lora: config.lora,
    objective: lossObjective(config.objective),
    adamw: { lr: config.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: config.weightDecay },
    maxGradNorm: config.maxGradNorm,
    recompute: config.recompute,
    activations: activationDtype(config),
    seed: config.seed,
  };
}
