import { beforeEach, describe, expect, test } from 'vitest';
import { isSoftwareAdapter, useGpuStore, type AdapterReport } from './gpu';

interface FakeGpuOptions {
  adapter?: boolean;
  deviceError?: Error;
  vendor?: string;
}

/** A stand-in for navigator.gpu with just what Gpu.create touches; `loseDevice` fires device.lost. */
function fakeGpu({ adapter = true, deviceError, vendor = 'acme' }: FakeGpuOptions = {}) {
  let loseDevice: (reason: string) => void = () => {};
  const lost = new Promise<{ reason: string; message: string }>((resolve) => {
    loseDevice = (reason) => resolve({ reason, message: 'driver reset' });
  });
  const limits = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 };
  const device = { features: new Set<string>(), limits, addEventListener() {}, lost, destroy() {} };
  const fakeAdapter = {
    info: { vendor, architecture: 'rdna-3', device: '', description: 'Acme GPU', isFallbackAdapter: false },
    features: new Set(['timestamp-query', 'bgra8unorm-storage']),
    limits,
    async requestDevice() {
      if (deviceError) throw deviceError;
      return device;
    },
  };
  const gpu = { requestAdapter: async () => (adapter ? fakeAdapter : null) };
  return { gpu: gpu as unknown as GPU, loseDevice };
}

describe('the WebGPU probe store', () => {
  beforeEach(() => {
    useGpuStore.setState({ status: 'probing', adapter: undefined, error: undefined, gpu: undefined });
  });

  test('starts out probing', () => {
    expect(useGpuStore.getState().status).toBe('probing');
  });

  test('reports the adapter when a device opens', async () => {
    await useGpuStore.getState().probe(fakeGpu().gpu);
    const { status, adapter, error } = useGpuStore.getState();
    expect(status).toBe('ready');
    expect(error).toBeUndefined();
    expect(adapter?.vendor).toBe('acme');
    expect(adapter?.architecture).toBe('rdna-3');
    expect(adapter?.features).toEqual(['bgra8unorm-storage', 'timestamp-query']);
    expect(adapter?.limits.maxStorageBufferBindingSize).toBe(1 << 27);
  });

  test('is missing when the browser has no navigator.gpu', async () => {
    // Node (the unit-test environment) has no navigator.gpu.
    await useGpuStore.getState().probe();
    expect(useGpuStore.getState().status).toBe('missing');
    expect(useGpuStore.getState().error).toMatch(/navigator\.gpu/);
  });

  test('is missing when WebGPU offers no adapter', async () => {
    await useGpuStore.getState().probe(fakeGpu({ adapter: false }).gpu);
    expect(useGpuStore.getState().status).toBe('missing');
    expect(useGpuStore.getState().error).toMatch(/no GPU adapter/);
  });

  test('is an error when the device cannot be opened', async () => {
    await useGpuStore.getState().probe(fakeGpu({ deviceError: new Error('limit too high') }).gpu);
    expect(useGpuStore.getState().status).toBe('error');
    expect(useGpuStore.getState().error).toBe('limit too high');
    expect(useGpuStore.getState().adapter).toBeUndefined();
  });

  test('turns into an error when the device is lost', async () => {
    const { gpu, loseDevice } = fakeGpu();
    await useGpuStore.getState().probe(gpu);
    loseDevice('unknown');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(useGpuStore.getState().status).toBe('error');
    expect(useGpuStore.getState().error).toMatch(/lost: driver reset/);
  });

  test('keeps the result of the latest probe when two overlap', async () => {
    const first = useGpuStore.getState().probe(fakeGpu({ vendor: 'first' }).gpu);
    const second = useGpuStore.getState().probe(fakeGpu({ vendor: 'second' }).gpu);
    await Promise.all([first, second]);
    expect(useGpuStore.getState().adapter?.vendor).toBe('second');
  });
});

describe('isSoftwareAdapter', () => {
  const base: AdapterReport = {
    vendor: 'nvidia',
    architecture: 'hopper',
    device: '',
    description: '',
    isFallbackAdapter: false,
    features: [],
    limits: {},
  };

  test('tells CPU adapters from GPUs', () => {
    expect(isSoftwareAdapter(base)).toBe(false);
    expect(isSoftwareAdapter({ ...base, vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ ...base, description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ ...base, isFallbackAdapter: true })).toBe(true);
  });
});
