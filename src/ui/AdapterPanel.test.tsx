import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import type { AdapterReport } from '../store/gpu';
import { AdapterStatus, GpuBadgeView, type AdapterStatusProps } from './AdapterPanel';

const adapter: AdapterReport = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: '',
  description: 'NVIDIA H100',
  isFallbackAdapter: false,
  features: ['shader-f16', 'timestamp-query'],
  limits: { maxStorageBufferBindingSize: 2147483648, maxComputeWorkgroupSizeX: 1024 },
};

function render(state: Omit<AdapterStatusProps, 'onRetry'>): string {
  return renderToStaticMarkup(<AdapterStatus {...state} onRetry={() => {}} />);
}

describe('AdapterStatus', () => {
  test('shows that it is probing', () => {
    expect(render({ status: 'probing' })).toContain('data-testid="webgpu-probing"');
  });

  test('shows the adapter, its features and its limits', () => {
    const html = render({ status: 'ready', adapter });
    expect(html).toContain('data-testid="adapter-vendor">nvidia<');
    expect(html).toContain('data-testid="adapter-architecture">hopper<');
    expect(html).toContain('data-testid="adapter-feature">shader-f16<');
    expect(html).toContain('2,147,483,648 (2 GiB)');
    expect(html).toContain('<code>maxComputeWorkgroupSizeX</code></td><td class="num">1,024<');
    expect(html).not.toContain('adapter-software');
  });

  test('says what each requested feature does today, and which the adapter lacks', () => {
    const html = render({ status: 'ready', adapter });
    expect(html).toContain('Optional features the workbench requests');
    expect(html).toMatch(/<code>subgroups<\/code><span class="muted">the reductions of [^<]*\(not offered by this adapter\)<\/span>/);
    expect(html).toMatch(/<code>shader-f16<\/code><span class="muted">runs with f16 activations multiply [^<]*self-test/);
    expect(html).toMatch(/<code>chromium-experimental-subgroup-matrix<\/code><span class="muted">tensor cores [^<]*\(not offered by this adapter\)/);
    expect(html).toContain('per-kernel GPU timings in the benchmark');
  });

  test('explains how to enable WebGPU when it is missing', () => {
    const html = render({ status: 'missing', error: 'This browser has no WebGPU (navigator.gpu is undefined).' });
    expect(html).toContain('data-testid="webgpu-missing"');
    expect(html).toContain('navigator.gpu is undefined');
    expect(html).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect(html).toContain('chrome://flags/#enable-vulkan');
    expect(html).not.toContain('adapter-panel');
  });

  test('shows the error when the device fails to open', () => {
    const html = render({ status: 'error', error: 'device creation failed' });
    expect(html).toContain('data-testid="webgpu-error"');
    expect(html).toContain('device creation failed');
  });
});

describe('GpuBadgeView', () => {
  test('while WebGPU works, the badge is a button that opens the adapter details in the popover', () => {
    const html = renderToStaticMarkup(<GpuBadgeView status="ready" adapter={adapter} />);
    expect(html).toMatch(/^<button type="button" class="badge gpu-badge badge-ok" popovertarget="gpu-details" aria-expanded="false" aria-controls="gpu-details"/i);
    expect(html).toContain('WebGPU · nvidia hopper');
    expect(renderToStaticMarkup(<GpuBadgeView status="ready" adapter={adapter} open />)).toContain('aria-expanded="true"');
  });

  test('a software adapter is marked as a warning', () => {
    const html = renderToStaticMarkup(<GpuBadgeView status="ready" adapter={{ ...adapter, vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true }} />);
    expect(html).toContain('badge-warn');
  });

  test('when WebGPU is missing or failed, the badge links to the panel on the page', () => {
    for (const status of ['missing', 'error'] as const) {
      const html = renderToStaticMarkup(<GpuBadgeView status={status} />);
      expect(html).toMatch(/^<a class="badge gpu-badge badge-error" href="#gpu"/);
      expect(html.toLowerCase()).not.toContain('popovertarget');
    }
  });
});
