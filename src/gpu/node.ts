// WebGPU in Node through Dawn (the `webgpu` package): for the CLI, benchmarks and the Node GPU tests.
import { create, globals } from 'webgpu';

/** Puts navigator.gpu and the GPU* globals (GPUBufferUsage, ...) in place, as a browser has them. */
export function installNodeWebGpu(dawnOptions: string[] = []): GPU {
  Object.assign(globalThis, globals);
  const gpu = create(dawnOptions);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  return gpu;
}
