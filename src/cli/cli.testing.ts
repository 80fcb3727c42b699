// The command-line tests run the commands as users do: each bundled for Node on its own, as `npm run build:cli` does.
import { join } from 'node:path';
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
