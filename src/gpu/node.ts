// WebGPU in Node through Dawn (the `webgpu` package): for the CLI, benchmarks and the Node GPU tests.
import { create, globals } from 'webgpu';

/**
 * On a real GPU (MANYICL_GPU=real), Dawn's toggles that offer shader-f16 on NVIDIA's Vulkan driver and the
 * experimental subgroup matrices (tensor cores), as Chrome's --enable-unsafe-webgpu does (../shared/DEVICE.md).
 */
export const REAL_GPU_DAWN_OPTIONS = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];

/** Puts navigator.gpu and the GPU* globals (GPUBufferUsage, ...) in place, as a browser has them. */
export function installNodeWebGpu(dawnOptions: string[] = process.env.MANYICL_GPU === 'real' ? REAL_GPU_DAWN_OPTIONS : []): GPU {
  Object.assign(globalThis, globals);
  const gpu = dawnGpu(dawnOptions);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  return gpu;
}

/** Dawn's WebGPU entry point with these options (for instance its null backend), leaving the globals alone. */
export function dawnGpu(dawnOptions: string[]): GPU {
  return create(dawnOptions);
}
