// The WebGPU probe: opens the adapter once and keeps what the UI shows about it.
import { create } from 'zustand';
import { Gpu, WebGpuMissingError, type AdapterReport } from '../gpu/gpu';
import { errorMessage } from '../util/errors';

export type { AdapterReport };

export type GpuStatus = 'probing' | 'ready' | 'missing' | 'error';

export interface GpuState {
  status: GpuStatus;
  /** Set when status is 'ready'. */
  adapter?: AdapterReport;
  /** Why WebGPU is 'missing', or what went wrong ('error'). */
  error?: string;
  /** The opened device, for the code that runs kernels; never rendered. */
  gpu?: Gpu;
  /** Opens WebGPU (navigator.gpu unless another GPU object is given) and records the outcome. */
  probe(source?: GPU): Promise<void>;
}

const INSECURE_CONTEXT =
  'This page is not a secure context, and browsers expose WebGPU only on https:// pages and on localhost.';

let latestProbe = 0;

export const useGpuStore = create<GpuState>()((set) => ({
  status: 'probing',

  async probe(source?: GPU): Promise<void> {
    const probeId = ++latestProbe;
    set({ status: 'probing', adapter: undefined, error: undefined, gpu: undefined });
    const navigatorGpu = source ?? globalThis.navigator?.gpu;
    if (!navigatorGpu && globalThis.isSecureContext === false) {
      set({ status: 'missing', error: INSECURE_CONTEXT });
      return;
    }
    try {
      const gpu = await Gpu.create(navigatorGpu);
      if (probeId !== latestProbe) {
        gpu.device.destroy(); // a newer probe has taken over
        return;
      }
      set({ status: 'ready', adapter: gpu.adapter, gpu });
      void gpu.device.lost.then((info) => {
        if (info.reason === 'destroyed' || useGpuStore.getState().gpu !== gpu) return;
        const error = `The GPU device was lost: ${info.message || 'no reason given'}`;
        set({ status: 'error', error, gpu: undefined });
      });
    } catch (error) {
      if (probeId !== latestProbe) return;
      if (error instanceof WebGpuMissingError) set({ status: 'missing', error: error.message });
      else set({ status: 'error', error: errorMessage(error) });
    }
  },
}));

/** The optional features the device is opened with when the adapter offers them (src/gpu/gpu.ts), and what each does today. */
export const WORKBENCH_FEATURES: readonly { name: string; use: string }[] = [
  {
    name: 'shader-f16',
    use: 'runs with f16 activations multiply the base weights in f16 arithmetic (f32 sums), once that kernel passes its self-test here; the rest computes in f32',
  },
  { name: 'subgroups', use: 'the reductions of RMSNorm, attention, the loss and the gradient norm use subgroup operations' },
  {
    name: 'chromium-experimental-subgroup-matrix',
    use: 'tensor cores for those f16 products, tried first and used once their self-test passes here (Chrome offers it with --enable-unsafe-webgpu)',
  },
  { name: 'timestamp-query', use: 'per-kernel GPU timings in the benchmark (npm run bench), not in training runs' },
];

/** True for adapters that run on the CPU (SwiftShader, llvmpipe, WARP): correct, but slow. */
export function isSoftwareAdapter(adapter: AdapterReport): boolean {
  const names = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`;
  return adapter.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|microsoft basic render|\bwarp\b/i.test(names);
}
