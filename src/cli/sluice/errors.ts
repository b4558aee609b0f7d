/**
 * The `sluice` client's typed errors. Every one ends the command with one line on stderr,
 * `sluice: CODE: message`, and exit status 1 (a usage mistake is args.ts's UsageError: 2).
 *
 * Codes: the server's own (`TOPIC_NOT_FOUND`, `GROUP_NOT_EMPTY`, ... from the HTTP error body,
 * docs/API.md), `HTTP_<status>` for an error answer without a JSON body, and the client's:
 * `CONNECTION_FAILED` (the server cannot be reached), `REQUEST_TIMED_OUT` (no answer within
 * CLIENT_REQUEST_TIMEOUT_MS plus the request's own wait), `BAD_RESPONSE` (an answer that is not
 * the API's), `CONFIG_INVALID` (config file, URL), `INPUT_INVALID` (a produce line that cannot be
 * read), `FORMAT_INVALID` (a consume format string), `PARTITION_NOT_FOUND` (-p names no
 * partition), `TOO_MANY_PARTITIONS` (a reset larger than one request takes), `NOT_FOUND` (bench without the source tree), `ABORTED` (internal: a request cut
 * short by a signal, never shown).
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status when the server answered with this error. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export function isCliError(err: unknown, code?: string): err is CliError {
  return err instanceof CliError && (code === undefined || err.code === code);
}
