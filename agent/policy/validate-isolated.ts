/**
 * Validating a verified bundle's content (zod, yaml, rule compilation: bundle.ts) in a short-lived
 * worker thread, so none of it stays in the agent's isolate (README, "Validation apart from the
 * running agent"). If the worker cannot run, the validation happens in-process and `workerError`
 * says why, for the log.
 */
import { ConfigError, errorMessage } from '../util/errors.js';
import { answerFromWorker } from '../util/worker-once.js';
import type { PolicyOverlay } from './bundle.js';

/** What the worker posts back. */
export type ValidateAnswer =
  | { kind: 'ok'; overlay: PolicyOverlay }
  | { kind: 'config-error'; file: string; keyPath: string; expected: string };

const WORKER = new URL('./validate-worker.js', import.meta.url);

/** The bundle's content as plain data; throws ConfigError naming the bundle, the key path and what was expected. */
export async function validateBundleIsolated(payload: Buffer, where: string): Promise<PolicyOverlay & { workerError?: string }> {
  let answer: ValidateAnswer;
  try {
    answer = await answerFromWorker<ValidateAnswer>(WORKER, { payload: payload.toString('utf8'), where });
  } catch (err) {
    return { ...(await import('./bundle.js')).validateBundle(payload, where), workerError: errorMessage(err) };
  }
  if (answer.kind === 'config-error') throw new ConfigError(answer.file, answer.keyPath, answer.expected);
  return answer.overlay;
}
