import { describe, expect, it } from 'vitest';
import { BindGroupCache } from './gpu';

// The cache only compares identities, so plain objects stand in for pipelines, buffers and bind groups.
const buffer = () => ({}) as GPUBuffer;
const pipeline = {};

describe('BindGroupCache', () => {
  it('makes a bind group once per pipeline and buffer list', () => {
    const cache = new BindGroupCache();
    const [a, b] = [buffer(), buffer()];
    let made = 0;
    const make = () => ({ n: ++made }) as unknown as GPUBindGroup;
    const first = cache.get(pipeline, [a, b], make);
    expect(cache.get(pipeline, [a, b], make)).toBe(first);
    expect(cache.get(pipeline, [b, a], make)).not.toBe(first);
    expect(cache.get({}, [a, b], make)).not.toBe(first);
    expect(made).toBe(3);
  });

  it('drops every group binding a forgotten buffer, and only those', () => {
    const cache = new BindGroupCache();
    const [a, b, c] = [buffer(), buffer(), buffer()];
    let made = 0;
    const make = () => ({ n: ++made }) as unknown as GPUBindGroup;
    const ab = cache.get(pipeline, [a, b], make);
    cache.get(pipeline, [b, c], make);
    const ac = cache.get(pipeline, [a, c], make);
    cache.forget(b);
    expect(cache.size).toBe(1);
    expect(cache.get(pipeline, [a, c], make)).toBe(ac);
    expect(cache.get(pipeline, [a, b], make)).not.toBe(ab);
  });

  it('evicts the least recently used group past its capacity', () => {
    const cache = new BindGroupCache(2);
    const [a, b, c] = [buffer(), buffer(), buffer()];
    const make = () => ({}) as GPUBindGroup;
    const ga = cache.get(pipeline, [a], make);
    const gb = cache.get(pipeline, [b], make);
    expect(cache.get(pipeline, [a], make)).toBe(ga); // a is now the youngest
    cache.get(pipeline, [c], make); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.get(pipeline, [a], make)).toBe(ga);
    expect(cache.get(pipeline, [b], make)).not.toBe(gb);
  });
});
