import { execFile } from 'node:child_process';
import { PortwardenError } from '../../util/errors.js';

/** One finished command. A non-zero exit is a result, not an error (lsof exits 1 when nothing matched). */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs a program with an argument array (never a shell string). Rejects only when the program
 * cannot be run at all (missing, timed out, output too large).
 */
export interface CommandRunner {
  run(file: string, args: readonly string[], opts?: { env?: Record<string, string> }): Promise<CommandResult>;
}

export function createExecRunner(timeoutMs = 30_000): CommandRunner {
  return {
    run(file, args, opts) {
      return new Promise((resolve, reject) => {
        execFile(file, [...args], {
          encoding: 'utf8',
          timeout: timeoutMs,
          maxBuffer: 64 * 1024 * 1024,
          env: { ...process.env, ...(opts?.env ?? {}) },
        }, (err, stdout, stderr) => {
          if (err === null) { resolve({ stdout, stderr, code: 0 }); return; }
          const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
          if (typeof e.code === 'number' && e.killed !== true) { resolve({ stdout, stderr, code: e.code }); return; }
          reject(e.code === 'ENOENT'
            ? new PortwardenError('COMMAND_NOT_FOUND', `${file} not found`, { cause: err })
            : new PortwardenError('COMMAND_FAILED', `${file} failed: ${err.message}`, { retriable: true, cause: err }));
        });
      });
    },
  };
}
