import { describe, expect, it } from 'vitest';
import { onRealGpu, testGpu } from './gpu.testing';

describe('Gpu.create', () => {
  it('opens an adapter, reports it and takes its optional features', async () => {
    const gpu = await testGpu();
    const report = gpu.adapter;
    console.log(`adapter: ${report.vendor} / ${report.architecture} / ${report.description}; features: ${report.features.join(' ')}`);
    expect(report.features.length).toBeGreaterThan(0);
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    if (!onRealGpu) expect(`${report.vendor} ${report.architecture} ${report.description}`.toLowerCase()).toMatch(/swiftshader|google/);
    expect(gpu.features.timestamps).toBe(gpu.device.features.has('timestamp-query'));
    expect(gpu.limits.maxStorageBufferBindingSize).toBe(report.limits.maxStorageBufferBindingSize);
  });

  it('accounts for allocated and peak bytes', async () => {
    const gpu = await testGpu();
    const before = gpu.allocatedBytes;
    const a = gpu.buffer('a', 1000);
    const b = gpu.buffer('b', 2002);
    expect(gpu.allocatedBytes - before).toBe(1000 + 2004);
    gpu.destroy(a, b);
    expect(gpu.allocatedBytes).toBe(before);
    expect(gpu.peakBytes).toBeGreaterThanOrEqual(before + 3004);
  });

  it('refuses a buffer over the binding limit with a clear error', async () => {
    const gpu = await testGpu();
    expect(() => gpu.buffer('huge', gpu.limits.maxStorageBufferBindingSize + 4)).toThrow(/binds at most/);
  });

  it('times kernels with timestamp queries where the adapter has them', async () => {
    const gpu = await testGpu();
    if (!gpu.features.timestamps) return;
    expect(gpu.startTiming()).toBe(true);
    const code = '@group(0) @binding(1) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3<u32>) { if (i.x < arrayLength(&x)) { x[i.x] = x[i.x] * 2.0; } }';
    const x = gpu.upload('x', new Float32Array([1, 2, 3]));
    await gpu.submit((enc) => {
      gpu.run(enc, { pipeline: gpu.pipeline(code), buffers: [x], workgroups: [1], label: 'double' });
      gpu.run(enc, { pipeline: gpu.pipeline(code), buffers: [x], workgroups: [1], label: 'double' });
    });
    const timings = await gpu.stopTiming();
    expect(timings.double.calls).toBe(2);
    expect(timings.double.ms).toBeGreaterThanOrEqual(0);
    expect(Array.from(await gpu.readF32(x))).toEqual([4, 8, 12]);
    gpu.destroy(x);
  });
});

describe('bind groups', () => {
  const code =
    '@group(0) @binding(0) var<uniform> p: vec4<f32>;\n@group(0) @binding(1) var<storage, read> a: array<f32>;\n' +
    '@group(0) @binding(2) var<storage, read_write> b: array<f32>;\n' +
    '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3<u32>) { if (i.x < arrayLength(&b)) { b[i.x] = a[i.x] * p.x; } }';

  it('are reused across dispatches of the same buffers and dropped with a destroyed buffer', async () => {
    const gpu = await testGpu();
    const a = gpu.upload('a', new Float32Array([1, 2, 3]));
    let b = gpu.buffer('b', 12);
    const params = new Float32Array([2, 0, 0, 0]);
    const before = gpu.cachedBindGroups;
    await gpu.submit((enc) => {
      for (let i = 0; i < 3; i++) gpu.run(enc, { pipeline: gpu.pipeline(code), buffers: [a, b], params, workgroups: [1] });
    });
    expect(gpu.cachedBindGroups).toBe(before + 1);
    expect(Array.from(await gpu.readF32(b))).toEqual([2, 4, 6]);
    gpu.destroy(b);
    expect(gpu.cachedBindGroups).toBe(before);
    // A new buffer (which may reuse the freed one's memory) gets its own bind group and the right values.
    b = gpu.buffer('b2', 12);
    await gpu.submit((enc) => gpu.run(enc, { pipeline: gpu.pipeline(code), buffers: [a, b], params: new Float32Array([3, 0, 0, 0]), workgroups: [1] }));
    expect(Array.from(await gpu.readF32(b))).toEqual([3, 6, 9]);
    gpu.destroy(a, b);
    expect(gpu.cachedBindGroups).toBe(before);
  });
});

describe('GPU errors', () => {
  it('surface as exceptions instead of wrong numbers', async () => {
    const gpu = await testGpu();
    const code = '@group(0) @binding(1) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(1) fn main() { x[0] = 1.0; }';
    const small = gpu.device.createBuffer({ size: 4, usage: GPUBufferUsage.UNIFORM });
    await expect(
      gpu.submit((enc) => gpu.run(enc, { pipeline: gpu.pipeline(code), buffers: [small], workgroups: [1] })),
    ).rejects.toThrow(/usage|Storage|binding/i);
    small.destroy();
  });
});
