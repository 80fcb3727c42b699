#!/usr/bin/env node
// Validates WGSL as a device with every feature would, on Dawn's null backend (which compiles and validates but
// computes nothing): kernels for features this machine's GPU lacks (shader-f16, subgroup matrices) are checked
// here before a GPU runs them. Reads {features, modules: [{name, code, pipelines: [{entryPoint, constants}]}]}
// as JSON on stdin; prints one line per module, `module {name, messages, errors}` (Dawn prints there too). Its
// own short process: a second Dawn instance beside a test's SwiftShader one can abort Node.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { features, modules } = JSON.parse(input);
const gpu = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']);
for (const { name, code, pipelines } of modules) {
  // A device per module: the null backend has crashed on a second module's pipelines in one device.
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('Dawn has no null-backend adapter');
  const device = await adapter.requestDevice({ requiredFeatures: features });
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  await device.popErrorScope(); // reported below, with the compilation messages
  const messages = (await module.getCompilationInfo()).messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  const errors = [];
  for (const { entryPoint, constants } of pipelines) {
    device.pushErrorScope('validation');
    device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint, constants } });
    const error = await device.popErrorScope();
    if (error) errors.push(`${entryPoint} ${JSON.stringify(constants)}: ${error.message}`);
  }
  console.log(`module ${JSON.stringify({ name, messages, errors })}`);
}
// Exits at once: Dawn's threads have aborted Node at teardown.
process.exit(0);
