// The run setup the e2e specs fill in: small settings for a CPU-emulated GPU, filled by label as a user would.
import type { Page } from '@playwright/test';

export interface RunSettings {
  /** Train a LoRA adapter (the embedded model's default is full-parameter). */
  lora?: boolean;
  contextLength: number;
  batchSize?: number;
  steps: number;
  warmup?: number;
  learningRate?: number;
  checkpointEvery?: number;
}

/** Fills the run settings of the setup form. */
export async function fillRunSettings(page: Page, settings: RunSettings): Promise<void> {
  const field = (label: string) => page.getByLabel(label, { exact: true });
  if (settings.lora) await page.getByRole('radiogroup', { name: 'Mode' }).getByText('LoRA').click();
  await field('Context length').fill(String(settings.contextLength));
  await field('Batch size').fill(String(settings.batchSize ?? 1));
  await field('Steps').fill(String(settings.steps));
  await field('Warmup').fill(String(settings.warmup ?? 0));
  if (settings.learningRate !== undefined) await field('Learning rate').fill(String(settings.learningRate));
  if (settings.checkpointEvery !== undefined) await field('Checkpoint every').fill(String(settings.checkpointEvery));
}

/** Names the run and creates and starts it. */
export async function createAndStart(page: Page, name: string): Promise<void> {
  await page.getByTestId('run-name').fill(name);
  await page.getByTestId('create-and-start').click();
}
