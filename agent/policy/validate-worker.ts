/** Worker-thread entry of validateBundleIsolated (validate-isolated.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../util/errors.js';
import { validateBundle } from './bundle.js';
import type { ValidateAnswer } from './validate-isolated.js';

const { payload, where } = workerData as { payload: string; where: string };
let answer: ValidateAnswer;
try {
  answer = { kind: 'ok', overlay: validateBundle(Buffer.from(payload, 'utf8'), where) };
} catch (err) {
  // Anything else is an 'error' event: the caller repeats the work in-process and fails there.
  if (!(err instanceof ConfigError)) throw err;
  answer = { kind: 'config-error', file: err.file, keyPath: err.keyPath, expected: err.expected };
}
parentPort?.postMessage(answer);
