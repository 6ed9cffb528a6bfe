/**
 * The logging interface `lib/` and the handlers use. Powertools' Logger satisfies it on Lambda;
 * the local runtime prints one line per call. Fields must never carry write keys, raw user ids
 * or whole payloads.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
