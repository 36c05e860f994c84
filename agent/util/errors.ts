/**
 * Every error code the agent raises, in one place: they are stable (logs, tests and operators key on
 * them), so a code is added here, never renamed.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'a config or rule file is invalid (ConfigError: file, key path, what was expected)',
  USAGE: 'the command line is wrong',
  UNKNOWN_NAME: 'a registry has nothing by that name (output type, command, detector family, collector)',
  BASELINE_INVALID: 'a baseline export is not a portwarden baseline',
  BASELINE_UNREADABLE: 'a baseline export cannot be read',
  RULE_PACKS_MISSING: 'the built-in rule packs are not installed next to the agent',
  EVENT_TOO_LARGE: 'an event can never fit in the spool',
  PIPELINE_STOPPED: 'the pipeline is shutting down',
  SOURCE_STOPPED: 'a collector was polled after its shutdown',
  COMMAND_NOT_FOUND: 'a tool a collector runs (ps, lsof, netstat) is not on the PATH',
  COMMAND_FAILED: 'a tool a collector runs exited with an error',
  POWERSHELL_FAILED: 'the persistent PowerShell closed, exited, timed out or answered with an error',
  WIN32_CALL_FAILED: 'a Windows API call through koffi failed',
  WIN32_EXPORT_MISSING: 'a Windows DLL lacks a function the collector binds (older Windows, wine); said once at start',
  PE_FORMAT: 'an executable is not a PE file or its headers are damaged; its PE fields and import hash are left out',
  FIREWALL_UNREADABLE: 'the Windows Firewall state was not the JSON expected',
  WORKER_EXITED: 'a start-up worker thread ended without answering',
  WRITE_STALLED: 'a file output write made no progress',
  TLS_CONFIG: 'TLS files or settings of an output are unusable',
  STATE_DIR_LOCKED: 'another agent holds the state_dir (agent.lock); exit code 2',
  POLICY_KEY: 'a policy signing or verification key file is missing, unreadable or not Ed25519',
  POLICY_REFUSED: 'a policy bundle failed verification or validation and was not applied',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** Errors carry a stable code, whether retrying can help, and the underlying cause. */
export class PortwardenError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
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
