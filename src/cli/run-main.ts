import { errorMessage } from '../util/errors';

/** A command line the command cannot run: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/**
 * Runs a command's main and exits with its code (0 when it returns none). An error prints its message and exits 1;
 * a UsageError also prints `usage` and exits 2.
 */
export function runMain(main: () => Promise<number | void>, usage?: string): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      const usageError = error instanceof UsageError;
      console.error(usageError && usage ? `${error.message}\n${usage}` : errorMessage(error));
      process.exit(usageError ? 2 : 1);
    },
  );
}
