#!/usr/bin/env node
// npm run bench:device [-- --bundle-only]
// Prepares the device benchmark here, for the accelerator machine (../shared/DEVICE.md): bundles
// src/cli/bench-device.ts into dist-device/bench-device.mjs (everything inlined but `webgpu`), puts
// node_modules/webgpu/{index.js,package.json} beside it, writes .gpu/ (xz'd node and dawn.node, the GL/Vulkan
// loader .debs) unless --bundle-only, and prints the `run` call that carries both and runs scripts/device-bench.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const bundleOnly = process.argv.includes('--bundle-only');
const MiB = 1024 ** 2;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
}

console.log('bundling src/cli/bench-device.ts into dist-device/');
run(join('node_modules', '.bin', 'vite'), ['build', '--mode', 'device', '--logLevel', 'warn']);
const webgpu = join('dist-device', 'node_modules', 'webgpu');
mkdirSync(webgpu, { recursive: true });
for (const file of ['index.js', 'package.json']) copyFileSync(join('node_modules', 'webgpu', file), join(webgpu, file));

/** xz -6 of `source` into `target`, unless target is newer than source. */
function xz(source, target) {
  if (existsSync(target) && statSync(target).mtimeMs > statSync(source).mtimeMs) return console.log(`${target} is up to date`);
  console.log(`compressing ${source} into ${target}`);
  run('sh', ['-c', 'xz -T2 -6 -c "$0" > "$1.part" && mv "$1.part" "$1"', source, target]);
}

if (!bundleOnly) {
  mkdirSync(join('.gpu', 'gl'), { recursive: true });
  xz(realpathSync(process.execPath), join('.gpu', 'node.xz'));
  xz(join('node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node'), join('.gpu', 'dawn.node.xz'));
  if (readdirSync(join('.gpu', 'gl')).some((f) => f.endsWith('.deb'))) console.log('.gpu/gl already holds the loader .debs');
  else {
    const lists = '/tmp/amd64';
    mkdirSync(join(lists, 'partial'), { recursive: true });
    const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
    const apt = (args, cwd) => spawnSync('apt-get', [...o, ...args], { stdio: 'inherit', cwd, timeout: 180_000 }).status === 0;
    const ok = apt(['update']) && apt(['download', 'libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'], join('.gpu', 'gl'));
    if (!ok) {
      console.log('apt-get could not download the GL/Vulkan loader .debs into .gpu/gl. The device script runs without them only if ' +
        'that machine already has libvulkan.so.1; get them where apt works (see ../shared/DEVICE.md) and put them in .gpu/gl.');
    }
  }
}

// Both must stay out of git: carry only takes ignored paths.
const carry = ['dist-device', ...(bundleOnly ? [] : ['.gpu'])];
for (const path of carry) {
  if (spawnSync('git', ['check-ignore', '-q', path]).status !== 0) throw new Error(`${path} is not git-ignored; add it to .gitignore`);
}
const bytes = Number(execFileSync('du', ['-sb', ...carry]).toString().trim().split('\n').reduce((sum, line) => sum + Number(line.split('\t')[0]), 0));
console.log(`\ncarry: ${carry.join(', ')}, ${(bytes / MiB).toFixed(1)} MiB (the limit is 64 MiB)`);
if (bytes > 64 * MiB) console.log('that is over the limit: remove what .gpu/ does not need');
console.log('\nOn the accelerator machine, one call of at most 8 minutes:');
console.log(JSON.stringify({ command: 'bash scripts/device-bench.sh', carry, timeout_s: 480 }));
console.log('Options after the script: --shapes a,b  --steps N  --budget SECONDS (default 420)  --no-kernels. Locally on SwiftShader: ' +
  'DEVICE_BENCH_LOCAL=1 bash scripts/device-bench.sh --tiny');
