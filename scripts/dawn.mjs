#!/usr/bin/env node
// Runs a command with Dawn (the `webgpu` package) pointed at a GPU: the real one when MANYICL_GPU=real or the
// command has --real-gpu, otherwise Chromium's SwiftShader, which needs Debian's chromium package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';

const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
if (process.argv.includes('--real-gpu')) env.MANYICL_GPU = 'real';
if (env.MANYICL_GPU !== 'real') {
  const dir = process.env.SWIFTSHADER_DIR ?? '/usr/lib/chromium';
  const icd = `${dir}/vk_swiftshader_icd.json`;
  if (!existsSync(icd)) {
    console.error(
      `No SwiftShader Vulkan driver at ${icd}. Install Debian's chromium (sudo apt-get install -y chromium), ` +
        'set SWIFTSHADER_DIR to a folder holding vk_swiftshader_icd.json, or set MANYICL_GPU=real to use your GPU.',
    );
    process.exit(2);
  }
  env.VK_ICD_FILENAMES = icd;
  env.LD_LIBRARY_PATH = [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
}
const [command, ...args] = process.argv.slice(2);
// Ctrl-C reaches the command too (one process group): let it finish (a trainer saves a checkpoint) and pass on its status.
process.on('SIGINT', () => {});
const result = spawnSync(command, args, { stdio: 'inherit', env, shell: false });
process.exit(result.status ?? (result.signal ? 128 + (os.constants.signals[result.signal] ?? 0) : 1));
