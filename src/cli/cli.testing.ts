// The command-line tests run the commands as users do: each bundled for Node on its own, as `npm run build:cli` does.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'vite';

/** Bundles src/cli/<name>.ts into node_modules/.cache and returns the path of its .mjs. */
export async function buildCli(name: string): Promise<string> {
  const outDir = join(process.cwd(), 'node_modules', '.cache', `manyicl-${name}-cli`);
  await build({
    configFile: false,
    logLevel: 'silent',
    build: { ssr: `src/cli/${name}.ts`, outDir, target: 'node20', rollupOptions: { output: { entryFileNames: `${name}.mjs`, format: 'es' } } },
  });
  return join(outDir, `${name}.mjs`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a bundled command with Node and returns its exit code and output, whatever the code. */
export async function runCli(entry: string, args: readonly string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [entry, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as CliResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
