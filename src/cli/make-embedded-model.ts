// make-embedded-model [OUT_DIR]: writes the embedded default model (config, tokenizer, random weights) to
// public/models/manyicl-tiny, or OUT_DIR.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EMBEDDED_MODEL_PATH, makeEmbeddedModel } from '../model/embedded';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? join('public', EMBEDDED_MODEL_PATH);
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of makeEmbeddedModel()) {
    await writeFile(join(dir, name), bytes);
    console.log(`${join(dir, name)}: ${(bytes.length / 1024).toFixed(0)} KiB`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
