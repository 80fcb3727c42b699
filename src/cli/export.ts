// npm run export -- DIR --format peft|gguf-lora|merged-safetensors|merged-gguf|onnx [--dtype f32|f16|bf16] --out PATH
//   [--quant Q8_0|Q4_0|Q4_K|Q6_K] (merged-gguf: quantized matrices instead of --dtype)
// DIR is a case folder: config.json + model.safetensors (or model.safetensors.index.json and its shards), or
// model.gguf; adapter_config.json + adapter_model.safetensors; tokenizer.json and tokenizer_config.json when
// there. --out is a file for gguf-lora and merged-gguf, a folder otherwise. The export is written beside --out
// and renamed into place once complete: a failure leaves nothing partial.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXPORT_DTYPES, EXPORT_FORMATS, EXPORT_QUANTS, type ExportDtype, type ExportFormat, type ExportQuant, exportModel, isSingleFile } from '../export/formats';
import { readPeftAdapter } from '../export/peft';
import { caseBase } from './case-base';
import { nodeFolder, writeInPlace } from './node-folder';
import { UsageError, runMain } from './run-main';

const USAGE = `usage: npm run export -- DIR --format ${EXPORT_FORMATS.join('|')} [--dtype ${EXPORT_DTYPES.join('|')}] --out PATH [--quant ${EXPORT_QUANTS.join('|')}]`;


async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { format: { type: 'string' }, dtype: { type: 'string', default: 'f32' }, quant: { type: 'string' }, out: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError('give one case folder');
  const format = values.format as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw new UsageError(`--format takes ${EXPORT_FORMATS.join(', ')}; got ${values.format ?? 'nothing'}`);
  const dtype = values.dtype as ExportDtype;
  if (!EXPORT_DTYPES.includes(dtype)) throw new UsageError(`--dtype takes ${EXPORT_DTYPES.join(', ')}; got ${values.dtype}`);
  const quant = values.quant as ExportQuant | undefined;
  if (quant !== undefined && !EXPORT_QUANTS.includes(quant)) throw new UsageError(`--quant takes ${EXPORT_QUANTS.join(', ')}; got ${quant}`);
  if (!values.out) throw new UsageError('give --out');
  const dir = positionals[0];
  const out = resolve(values.out);

  const { base, close } = await caseBase(dir);
  try {
    const adapterFile = async (name: string) => (existsSync(join(dir, name)) ? new Uint8Array(await readFile(join(dir, name))) : undefined);
    const files = new Map<string, Uint8Array | undefined>();
    for (const name of ['adapter_config.json', 'adapter_model.safetensors']) files.set(name, await adapterFile(name));
    if (!files.get('adapter_config.json')) throw new Error(`${dir}: no adapter_config.json: there is no adapter to export`);
    const adapter = readPeftAdapter((name) => files.get(name), base.spec, dir);

    const single = isSingleFile(format);
    const t0 = performance.now();
    await writeInPlace(out, single ? 'file' : 'folder', (partial) =>
      exportModel(format, base, adapter, nodeFolder(single ? dirname(partial) : partial), { dtype, quant, fileName: single ? basename(partial) : undefined }),
    );
    const bytes = single ? (await stat(out)).size : undefined;
    console.log(JSON.stringify({ format, dtype, ...(quant ? { quant } : {}), out, ...(bytes !== undefined ? { bytes } : {}), seconds: Number(((performance.now() - t0) / 1000).toFixed(3)) }));
  } finally {
    await close();
  }
  return 0;
}

runMain(main, USAGE);
