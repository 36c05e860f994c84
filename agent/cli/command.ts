import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../util/errors.js';

/** Where a command writes; tests pass their own streams. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/**
 * One `portwarden <name>` subcommand. `run` resolves with the exit code: 0 ok, 1 runtime failure;
 * it throws UsageError / ConfigError for exit code 2 (main prints them).
 */
export interface Command {
  name: string;
  /** Full `--help` text: usage line, options, examples. */
  help: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** A command whose work is synchronous: its exit code resolves, its throw (UsageError ...) rejects. */
export function syncCommand(name: string, help: string, run: (argv: string[], io: CliIO) => number): Command {
  return {
    name,
    help,
    run(argv, io) {
      try {
        return Promise.resolve(run(argv, io));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
  };
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs in strict mode, with errors turned into UsageError. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new UsageError(`portwarden ${command}: ${msg} (see portwarden ${command} --help)`);
  }
}

/** Parses a non-negative integer option value or throws UsageError naming the option. */
export function intOption(command: string, name: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max) throw new UsageError(`portwarden ${command}: --${name} expects a whole number up to ${max}, got "${value}"`);
  return n;
}
