// The loss of a run's first optimizer step as our engine computes it: what a cluster run of the exported recipe
// must reproduce (its parity check).
import type { Tokenizer } from '../data/tokenizer';
import type { Model } from '../engine/weights';
import type { Gpu } from '../gpu/gpu';
import { stepBatches } from './recipe-data';
import type { RunConfig } from './run-config';
import { learningRate } from './schedule';
import { createTrainer, trainerConfig } from './trainer';

/**
 * Step 1 of a LoRA run on `model` (borrowed: the caller frees it): the loss before the update. The adapter starts
 * from `initialParams` (an imported adapter) when given, else from the run's seed.
 */
export async function firstStepLoss(
  gpu: Gpu, model: Model, config: RunConfig, tokenizer: Tokenizer, initialParams?: Float32Array,
): Promise<{ loss: number; targetTokens: number }> {
  if (config.mode !== 'lora') throw new Error('the first-step loss is computed for LoRA runs');
  // f32 activations whatever the run uses: the recipe's parity check compares with PyTorch in float32.
  const training = createTrainer(gpu, model, { ...trainerConfig(config), mode: 'lora', activations: 'f32' }, { borrowModel: true });
  try {
    if (initialParams) gpu.write(training.trainable.params, initialParams);
    const result = await training.trainer.step(stepBatches(config, tokenizer, 1), { lr: learningRate(1, config) });
    return { loss: result.loss, targetTokens: result.targetTokens };
  } finally {
    training.destroy();
  }
}
