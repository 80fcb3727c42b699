// Display preferences of this browser: the type scale (larger type for a projector or a classroom screen). Kept in
// localStorage, read before the first render so that nothing jumps; blocked storage only means it is not kept.
import { create } from 'zustand';

export type TypeScale = 'normal' | 'large';

const TYPE_SCALE_KEY = 'manyicl-type-scale';

export interface PreferencesState {
  typeScale: TypeScale;
  setTypeScale(scale: TypeScale): void;
}

export function createPreferencesStore(storage: Pick<Storage, 'getItem' | 'setItem'> | null, apply: (scale: TypeScale) => void) {
  let stored: string | null = null;
  try {
    stored = storage?.getItem(TYPE_SCALE_KEY) ?? null;
  } catch {
    // storage blocked: the normal scale
  }
  const initial: TypeScale = stored === 'large' ? 'large' : 'normal';
  apply(initial);
  return create<PreferencesState>()((set) => ({
    typeScale: initial,
    setTypeScale(scale) {
      try {
        storage?.setItem(TYPE_SCALE_KEY, scale);
      } catch {
        // storage blocked: the choice lasts until the page closes
      }
      apply(scale);
      set({ typeScale: scale });
    },
  }));
}

function browserStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** Sets the page's type scale: every size is in rem, so the root's data-type-scale scales the whole page. */
function applyToPage(scale: TypeScale): void {
  if (typeof document !== 'undefined') document.documentElement.dataset.typeScale = scale;
}

export const usePreferencesStore = createPreferencesStore(browserStorage(), applyToPage);
