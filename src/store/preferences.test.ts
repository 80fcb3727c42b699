import { describe, expect, test } from 'vitest';
import { type TypeScale, createPreferencesStore } from './preferences';

describe('preferences', () => {
  test('the type scale is applied at once from storage, kept when changed, and blocked storage does not throw', () => {
    const items = new Map<string, string>([['manyicl-type-scale', 'large']]);
    const storage = { getItem: (key: string) => items.get(key) ?? null, setItem: (key: string, value: string) => void items.set(key, value) };
    const applied: TypeScale[] = [];
    const store = createPreferencesStore(storage, (scale) => applied.push(scale));
    expect(store.getState().typeScale).toBe('large');
    store.getState().setTypeScale('normal');
    expect(items.get('manyicl-type-scale')).toBe('normal');
    expect(applied).toEqual(['large', 'normal']);

    const blocked = { getItem: () => { throw new Error('SecurityError'); }, setItem: () => { throw new Error('SecurityError'); } };
    const fallback = createPreferencesStore(blocked, (scale) => applied.push(scale));
    expect(fallback.getState().typeScale).toBe('normal');
    fallback.getState().setTypeScale('large');
    expect(fallback.getState().typeScale).toBe('large');
  });
});
