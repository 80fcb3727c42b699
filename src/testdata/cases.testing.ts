// Reads test fixtures under src/testdata, in Node (from disk) and in the browser (vitest browser mode
// serves the repository root, so the same files are fetched over HTTP).

function inNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Bytes of a fixture; relPath is relative to src/testdata, e.g. 'reference/llama-tiny/config.json'. */
export async function readFixtureBytes(relPath: string): Promise<Uint8Array> {
  if (inNode()) {
    // A variable specifier keeps browser bundlers from trying to resolve node:fs.
    const fsModuleName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsModuleName)) as typeof import('node:fs/promises');
    const url = new URL(relPath, new URL('./', import.meta.url));
    return new Uint8Array(await fs.readFile(url));
  }
  const response = await fetch('/src/testdata/' + relPath);
  if (!response.ok) throw new Error(`fixture ${relPath}: HTTP ${response.status}`);
  // Vite answers a missing file with the app's index.html.
  if (response.headers.get('content-type')?.startsWith('text/html')) throw new Error(`fixture ${relPath}: no such file`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function readFixtureJson(relPath: string): Promise<unknown> {
  const bytes = await readFixtureBytes(relPath);
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The reference cases copied from the HF/PEFT generator (see reference/README.md). */
export const REFERENCE_CASES = ['llama-tiny', 'mistral-tiny', 'llama3-tiny'] as const;

/** Cases in the same format with other shapes, from our float64 CPU reference (see generated/README.md). */
export const GENERATED_CASES = ['odd-gqa', 'mistral-window', 'llama3-tied-long'] as const;

/** The reference cases converted to GGUF (F16 and quantized types; see gguf/README.md). */
export const GGUF_CASES = ['llama-tiny-F16', 'mistral-tiny-F16', 'llama3-tiny-F16', 'llama-tiny-Q8_0', 'llama-tiny-Q4_0', 'llama3-tiny-Q6_K'] as const;

/** A file reader over one case folder, for loadReferenceCase: 'reference/NAME' or 'generated/NAME'. */
export function caseReader(folder: string): (name: string) => Promise<Uint8Array> {
  return (name) => readFixtureBytes(`${folder}/${name}`);
}

export function referenceCaseReader(caseName: string): (name: string) => Promise<Uint8Array> {
  return caseReader(`reference/${caseName}`);
}
