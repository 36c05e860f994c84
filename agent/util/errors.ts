/** Errors carry a stable code, whether retrying can help, and the underlying cause. */
export class PortwardenError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PortwardenError';
    this.code = code;
    this.retriable = opts.retriable ?? false;
  }
}

/** A configuration problem: names the file, the key path and what was expected. Exit code 2. */
export class ConfigError extends PortwardenError {
  readonly file: string;
  readonly keyPath: string;
  /** What was expected there (the message without file and key path). */
  readonly expected: string;

  constructor(file: string, keyPath: string, expected: string, cause?: unknown) {
    super('CONFIG_INVALID', `${file}: ${keyPath === '' ? '(top level)' : keyPath}: ${expected}`, { cause });
    this.name = 'ConfigError';
    this.file = file;
    this.keyPath = keyPath;
    this.expected = expected;
  }
}

/** A usage problem on the command line. Exit code 2. */
export class UsageError extends PortwardenError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
