import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    realGpu: boolean;
  }
}
