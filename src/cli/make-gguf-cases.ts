// make-gguf-cases OUT_DIR [NAME... | --all]: writes the GGUF reference cases (src/testdata/gguf/README.md)
// to OUT_DIR/<name>/, converted from the case folders under src/testdata (run from the repository root,
// or pass --testdata DIR). Without names: the cases the repository keeps; --all adds the F32 ones.
// make-gguf-cases --case DIR --type TYPE OUT_DIR: converts any case folder with a safetensors base model.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GGUF_CASES, makeGgufCase } from '../reference/make-gguf-case';
import { loadReferenceCase } from '../reference/case';
import { GGML_TYPES, type GgmlType } from '../engine/ggml';
import { runMain } from './run-main';

const USAGE = `usage: make-gguf-cases OUT_DIR [NAME... | --all] [--testdata DIR]
       make-gguf-cases --case CASE_DIR --type TYPE OUT_DIR
  NAME: ${GGUF_CASES.map((c) => c.name).join(', ')} (default: the committed ones)
  TYPE: ${GGML_TYPES.join(', ')}`;

/** Writes one converted case; returns its size in bytes. */
async function convert(caseDir: string, type: GgmlType, outDir: string, sourceName: string): Promise<number> {
  const source = await loadReferenceCase(async (name) => new Uint8Array(await readFile(join(caseDir, name))));
  if (source.baseFormat !== 'safetensors') throw new Error(`${caseDir}: the source case must have a safetensors base model`);
  const files = await makeGgufCase(source, type, { sourceName });
  await mkdir(outDir, { recursive: true });
  let bytes = 0;
  for (const [file, data] of files) {
    await writeFile(join(outDir, file), data);
    bytes += data.length;
  }
  console.log(`${outDir}: ${(bytes / 1024).toFixed(0)} KiB`);
  return bytes;
}

/** The value after `flag`, removing both from args; undefined when absent. */
function takeOption(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value\n${USAGE}`);
  args.splice(at, 2);
  return value;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const caseDir = takeOption(args, '--case');
  const type = takeOption(args, '--type');
  const testdata = takeOption(args, '--testdata') ?? join('src', 'engine', 'testdata');
  const all = args.includes('--all');
  const positional = args.filter((a) => a !== '--all');
  if (positional.some((a) => a.startsWith('-')) || positional.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const [outDir, ...names] = positional;

  if (caseDir !== undefined || type !== undefined) {
    if (caseDir === undefined || type === undefined || names.length > 0 || all) {
      console.error(USAGE);
      return 2;
    }
    if (!(GGML_TYPES as readonly string[]).includes(type)) {
      console.error(`unknown type ${type}\n${USAGE}`);
      return 2;
    }
    await convert(caseDir, type as GgmlType, outDir, caseDir);
    return 0;
  }

  const known = GGUF_CASES.map((c) => c.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    console.error(`unknown case ${unknown.join(', ')} (known: ${known.join(', ')})`);
    return 2;
  }
  const chosen = GGUF_CASES.filter((c) => (names.length > 0 ? names.includes(c.name) : all || c.committed));
  let total = 0;
  for (const { name, source, type: caseType } of chosen) {
    total += await convert(join(testdata, source), caseType, join(outDir, name), source);
  }
  console.log(`${chosen.length} cases, ${(total / 1024 / 1024).toFixed(2)} MiB`);
  return 0;
}

runMain(main);
