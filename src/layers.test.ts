import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { LAYERS, layerCycle, layerViolations, valueImports } from './layers';

const root = fileURLToPath(new URL('..', import.meta.url));

function sourcesUnderSrc(): { path: string; source: string }[] {
  return readdirSync(`${root}/src`, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts'))
    .map((file) => `src/${file.split('\\').join('/')}`)
    .map((path) => ({ path, source: readFileSync(`${root}/${path}`, 'utf8') }));
}

describe('layers', () => {
  test('every import in src/ follows the table in src/layers.ts', () => {
    const files = sourcesUnderSrc();
    expect(files.length).toBeGreaterThan(100);
    const report = layerViolations(files).map((v) => `${v.file}: '${v.specifier}': ${v.rule}`);
    expect(report).toEqual([]);
  });

  test('the table has no folder-level cycle', () => {
    expect(layerCycle()).toBeNull();
    expect(layerCycle({ a: ['b'], b: ['c'], c: ['a'] })).toEqual(['a', 'b', 'c', 'a']);
  });

  test('the engine and the UI keep to their rules', () => {
    expect(LAYERS.engine).toEqual(['gpu', 'util', 'kernels']);
    expect(LAYERS.ui).toEqual(['store', 'util']);
  });

  test('a value import across the rule is reported with the file and the rule; type imports are free', () => {
    const violations = layerViolations([
      { path: 'src/engine/model.ts', source: "import { readSafetensors } from '../model/safetensors';" },
      { path: 'src/engine/lora.ts', source: "import type { SafetensorsFile } from '../model/safetensors';" },
      { path: 'src/ui/App.tsx', source: "import { type Gpu, requestGpu } from '../gpu/gpu';\nexport { x } from '../store/runs';" },
      { path: 'src/data/packer.ts', source: "const m = await import('../engine/trainer');" },
      { path: 'src/engine/ops/matmul.ts', source: "import source from '../../../kernels/matmul.wgsl?raw';" },
      { path: 'src/engine/ops/matmul.gpu.test.ts', source: "import { caseReader } from '../../testdata/cases.testing';" },
    ]);
    expect(violations).toEqual([
      { file: 'src/engine/model.ts', specifier: '../model/safetensors', rule: 'engine may import values only from gpu, util, kernels; this imports from model' },
      { file: 'src/ui/App.tsx', specifier: '../gpu/gpu', rule: 'ui may import values only from store, util; this imports from gpu' },
      { file: 'src/data/packer.ts', specifier: '../engine/trainer', rule: 'data may import values only from util; this imports from engine' },
    ]);
  });

  test('value imports: side effects, re-exports and literal dynamic imports count', () => {
    const source = "import './a';\nimport type { B } from './b';\nimport { type C, D } from './c';\nexport { E } from './e';\nexport type { F } from './f';\nawait import('./g');";
    expect(valueImports('x.ts', source)).toEqual(['./a', './c', './e', './g']);
  });
});

describe('README', () => {
  test("the Layout section's table is the rule table", () => {
    const readme = readFileSync(`${root}/README.md`, 'utf8');
    const block = /<!-- layers:begin -->\n([\s\S]*?)<!-- layers:end -->/.exec(readme);
    expect(block, 'README.md has a <!-- layers:begin --> ... <!-- layers:end --> table').not.toBeNull();
    const rows = block![1].split('\n').slice(2).filter((line) => line.startsWith('|'));
    const table = Object.fromEntries(rows.map((row) => {
      const [folder, allowed] = row.split('|').slice(1, 3).map((cell) => cell.trim());
      return [folder.replace(/^src\/|\/$/g, '').replace(/^\(src\)$/, '.'), allowed === '–' ? [] : allowed.split(', ')];
    }));
    expect(table).toEqual(LAYERS);
  });
});
