/**
 * Base of every error Tally throws on purpose. `code` is stable and machine readable
 * (it is what API clients and logs match on); the message is for people.
 */
export class TallyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration variable is missing or malformed; names the variable and the bad value. */
export class ConfigError extends TallyError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('invalid_config', `${variable}: ${message}`);
    this.variable = variable;
  }
}
