/**
 * How flctl reports failures: one line on stderr like kubectl (`Error from server (NotFound): pods
 * "x" not found` for a Status from the API server, `error: …` otherwise) and exit code 1.
 */
/** A failure of the command itself (bad flags, unknown resource type); printed as `error: <message>`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Formats an error the way kubectl prints it (without a trailing newline). */
export function formatError(err: unknown): string {
  if (isApiError(err)) {
    const reason = err.reason || 'Unknown';
    const prefix = `Error from server (${reason})`;
    // kubectl prints the message alone when it has no reason.
    return reason === 'Unknown' ? `Error from server: ${err.message}` : `${prefix}: ${err.message}`;
  }
  if (err instanceof Error) {
    if (err.name === 'ConnectionError') return `error: ${connectionMessage(err)}`;
    return `error: ${err.message}`;
  }
  return `error: ${String(err)}`;
}

function connectionMessage(err: Error): string {
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  if (cause?.code === 'ECONNREFUSED') return `${err.message.split(':')[0] ?? ''}: the connection to the server was refused - did you specify the right host or port?`.replace(/^: /, '');
  return err.message;
}

/** ApiError without importing @flotilla/api (kept off the cold-start path). */
function isApiError(err: unknown): err is Error & { reason: string; code: number } {
  return err instanceof Error && err.name === 'ApiError' && typeof (err as { code?: unknown }).code === 'number';
}

/** The HTTP code of an API error, or undefined. */
export function apiErrorCode(err: unknown): number | undefined {
  return isApiError(err) ? err.code : undefined;
}
