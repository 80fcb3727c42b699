/** Linear warmup to lr over warmupSteps, then cosine decay to lr * minLrRatio at the last step (steps are 1-based). */
export function learningRate(step: number, cfg: { lr: number; warmupSteps: number; minLrRatio: number; steps: number }): number {
  const { lr, warmupSteps, minLrRatio, steps } = cfg;
  if (warmupSteps > 0 && step <= warmupSteps) return (lr * step) / warmupSteps;
  const decaySteps = Math.max(1, steps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  const min = lr * minLrRatio;
  return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * progress));
}
