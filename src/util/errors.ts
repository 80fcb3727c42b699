/** The message of anything thrown: an Error's message, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether a storage write failed because the browser's quota is used up (IndexedDB, Cache Storage, OPFS). */
export function isQuotaError(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: unknown }).name;
    if (name === 'QuotaExceededError') return true;
    if (e instanceof Error && /quota/i.test(e.message)) return true;
  }
  return false;
}
