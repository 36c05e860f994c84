/** Worker-thread entry of prepareStartupIsolated (startup-isolated.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../util/errors.js';
import { prepareStartup } from './startup.js';
import type { StartupAnswer } from './startup-isolated.js';

const { file, env } = workerData as { file: string | undefined; env: NodeJS.ProcessEnv };
let answer: StartupAnswer;
try {
  answer = { kind: 'ok', startup: prepareStartup(file, env) };
} catch (err) {
  // Anything else is an 'error' event: the caller repeats the work in-process and fails there.
  if (!(err instanceof ConfigError)) throw err;
  answer = { kind: 'config-error', file: err.file, keyPath: err.keyPath, expected: err.expected };
}
parentPort?.postMessage(answer);
