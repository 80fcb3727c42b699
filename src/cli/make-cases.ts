// make-cases OUT_DIR [NAME...]: writes the generated reference cases (one LoRA training step, expected values
// from the float64 CPU reference) to OUT_DIR/<name>/. The repository keeps them in src/testdata/generated.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GENERATED_CASES, makeReferenceCase } from '../reference/make-case';
import { runMain } from './run-main';

async function main(): Promise<number> {
  const [outDir, ...names] = process.argv.slice(2);
  const known = GENERATED_CASES.map((c) => c.name);
  if (!outDir || outDir.startsWith('-')) {
    console.error(`usage: make-cases OUT_DIR [NAME...]\n  NAME: ${known.join(', ')} (default: all)`);
    return 2;
  }
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    console.error(`unknown case ${unknown.join(', ')} (known: ${known.join(', ')})`);
    return 2;
  }
  for (const { name, options } of GENERATED_CASES) {
    if (names.length > 0 && !names.includes(name)) continue;
    const dir = join(outDir, name);
    await mkdir(dir, { recursive: true });
    let bytes = 0;
    for (const [file, data] of makeReferenceCase(options)) {
      await writeFile(join(dir, file), data);
      bytes += data.length;
    }
    console.log(`${dir}: ${(bytes / 1024).toFixed(0)} KiB`);
  }
  return 0;
}

runMain(main);
