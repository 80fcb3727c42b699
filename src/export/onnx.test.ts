// The ONNX export's files, without running them: external data laid out as the graph says, and the committed
// fixture that eval's ONNX generation test reads (src/testdata/onnx) equal to what the exporter writes now.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ONNX_FIXTURE, TINY_SPECS, tinyModel } from '../reference/tiny-decoder.testing';
import { readFixtureBytes } from '../testdata/cases.testing';
import { exportOnnx } from './onnx';
import { decodeModel } from './onnx/proto';
import { memoryFolder } from './sink';

describe('ONNX export files', () => {
  it('streams every weight to model.onnx_data, back to back, as the initializers locate them', async () => {
    const m = tinyModel(TINY_SPECS.mistral, 12);
    const folder = memoryFolder();
    const progress: number[] = [];
    await exportOnnx(m.base, m.adapter, folder, { externalData: true, onProgress: (done, total) => progress.push(done / total) });
    const data = folder.files.get('onnx/model.onnx_data')!;
    const graph = decodeModel(folder.files.get('onnx/model.onnx')!).graph;
    const external = graph.initializer.filter((t) => t.data_location === 1);
    let offset = 0;
    for (const t of external) {
      const entries = Object.fromEntries(t.external_data!.map((e) => [e.key, e.value]));
      expect(entries).toEqual({ location: 'model.onnx_data', offset: String(offset), length: String(t.dims.reduce((a, b) => a * b, 1) * 4) });
      offset += Number(entries.length);
    }
    expect(offset).toBe(data.length);
    // The embedding is stored first, as the model has it.
    const embedding = external.find((t) => t.name === 'model.embed_tokens.weight')!;
    const at = Number(embedding.external_data!.find((e) => e.key === 'offset')!.value);
    expect(new Float32Array(data.slice(at, at + 4 * 8).buffer)).toEqual((await m.base.tensor('model.embed_tokens.weight')).slice(0, 8));
    expect(progress.at(-1)).toBe(1);
    expect(folder.files.has('onnx/model_fp16.onnx')).toBe(false);
  });

  // MANYICL_WRITE_FIXTURES=1 rewrites the fixture instead, after a deliberate change of the exported graph.
  it(`the committed fixture testdata/${ONNX_FIXTURE.folder} is what the exporter writes`, async () => {
    const m = tinyModel(TINY_SPECS[ONNX_FIXTURE.arch], ONNX_FIXTURE.seed);
    const folder = memoryFolder();
    await exportOnnx(m.base, m.adapter, folder, { externalData: false });
    expect([...folder.files.keys()].sort()).toEqual([...ONNX_FIXTURE.files].sort());
    for (const [path, bytes] of folder.files) {
      if (process.env.MANYICL_WRITE_FIXTURES === '1') {
        const file = fileURLToPath(new URL(`../testdata/${ONNX_FIXTURE.folder}/${path}`, import.meta.url));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, bytes);
      }
      expect(await readFixtureBytes(`${ONNX_FIXTURE.folder}/${path}`), path).toEqual(bytes);
    }
  });
});
