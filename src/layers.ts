// The dependency rule of src/, in one table: which folders a folder may import values from. `import type`
// is free (types vanish at build time); everything else, re-exports and dynamic imports included, must
// follow the table. src/layers.test.ts checks every file, and README's Layout section shows the table.
import { parseSync } from 'oxc-parser';

/** Folder -> the folders its files may import values from. Paths outside src are named 'kernels', 'e2e'. */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  ui: ['store', 'util'],
  store: ['eval', 'export', 'train', 'data', 'model', 'gpu', 'util'],
  eval: ['export', 'train', 'data', 'model', 'engine', 'gpu', 'util'],
  export: ['train', 'model', 'engine', 'gpu', 'util'],
  train: ['data', 'model', 'engine', 'gpu', 'util'],
  model: ['data', 'engine', 'gpu', 'util'],
  data: ['util'],
  engine: ['gpu', 'util', 'kernels'],
  gpu: ['util'],
  util: [],
  // Tools around the app: checks, benchmarks and command-line entry points.
  reference: ['train', 'data', 'model', 'engine', 'gpu', 'util'],
  bench: ['reference', 'train', 'data', 'model', 'engine', 'gpu', 'util', 'e2e'],
  cli: ['bench', 'reference', 'eval', 'export', 'train', 'data', 'model', 'engine', 'gpu', 'util', 'e2e'],
  testdata: [],
  // src/main.tsx, the app's entry.
  '.': ['ui', 'store'],
};

/** Tests and test helpers (*.test.ts(x), *.testing.ts) may also use the fixtures, the oracle and e2e's servers. */
export const TEST_EXTRAS: readonly string[] = ['reference', 'testdata', 'e2e'];

export function isTestFile(path: string): boolean {
  return /\.test\.tsx?$|\.testing\.ts$/.test(path);
}

export interface LayerViolation {
  file: string;
  specifier: string;
  /** Why it is refused, in words: the rule broken. */
  rule: string;
}

/** The layer of a repository path: the folder under src ('.' for a file directly in src), or the top folder. */
export function layerOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] !== 'src') return parts[0];
  return parts.length > 2 ? parts[1] : '.';
}

/** The specifiers a module imports values from (static, re-exported and dynamic with a literal string). */
export function valueImports(path: string, source: string): string[] {
  const { module, errors } = parseSync(path, source);
  if (errors.length > 0) throw new Error(`${path}: cannot parse: ${errors[0].message}`);
  const specifiers: string[] = [];
  for (const declaration of module.staticImports) {
    // `import './side-effect'` has no entries and still runs the module.
    if (declaration.entries.length === 0 || declaration.entries.some((entry) => !entry.isType)) specifiers.push(declaration.moduleRequest.value);
  }
  for (const declaration of module.staticExports) {
    for (const entry of declaration.entries) if (entry.moduleRequest && !entry.isType) specifiers.push(entry.moduleRequest.value);
  }
  for (const dynamic of module.dynamicImports) {
    const literal = /^(['"`])([^'"`$]*)\1$/.exec(source.slice(dynamic.moduleRequest.start, dynamic.moduleRequest.end));
    if (literal) specifiers.push(literal[2]);
  }
  return specifiers;
}

function resolveRelative(fromFile: string, specifier: string): string {
  const parts = fromFile.split('/').slice(0, -1);
  for (const part of specifier.replace(/[?#].*$/, '').split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return parts.join('/');
}

/** Every import of the given files (repository-relative paths) that the table refuses. */
export function layerViolations(files: readonly { path: string; source: string }[]): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const { path, source } of files) {
    const from = layerOf(path);
    const allowed = LAYERS[from];
    if (!allowed) {
      violations.push({ file: path, specifier: '', rule: `folder '${from}' is not in the layer table (src/layers.ts)` });
      continue;
    }
    const extras = isTestFile(path) ? TEST_EXTRAS : [];
    for (const specifier of valueImports(path, source)) {
      if (!specifier.startsWith('.')) continue; // packages
      const target = resolveRelative(path, specifier);
      const to = layerOf(target);
      if (to === from || allowed.includes(to) || extras.includes(to)) continue;
      const may = [...allowed, ...extras].join(', ') || 'nothing outside itself';
      violations.push({ file: path, specifier, rule: `${from} may import values only from ${may}; this imports from ${to}` });
    }
  }
  return violations;
}

/** A folder-level cycle in the table itself, as a path of folders, or null. */
export function layerCycle(layers: Readonly<Record<string, readonly string[]>> = LAYERS): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const walk = (folder: string, path: string[]): string[] | null => {
    if (state.get(folder) === 'done') return null;
    if (state.get(folder) === 'open') return [...path.slice(path.indexOf(folder)), folder];
    state.set(folder, 'open');
    for (const next of layers[folder] ?? []) {
      const cycle = walk(next, [...path, folder]);
      if (cycle) return cycle;
    }
    state.set(folder, 'done');
    return null;
  };
  for (const folder of Object.keys(layers)) {
    const cycle = walk(folder, []);
    if (cycle) return cycle;
  }
  return null;
}
