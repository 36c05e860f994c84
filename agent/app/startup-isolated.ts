/**
 * `run`'s start-up reads (startup.ts) in a short-lived worker thread.
 *
 * Validating the config and the rule files needs zod and yaml, whose modules, the schemas built from
 * them and the code compiled for them take about 6 MB of heap (measured by importing config/loader.js
 * and agent/detect/index.js into a bare node). Loaded into the agent's isolate they would stay for as
 * long as the agent runs; a worker's isolate is freed when it ends. If the worker cannot run, the
 * reads happen in-process, and the agent logs why.
 */
import { ConfigError, errorMessage } from '../util/errors.js';
import { answerFromWorker } from '../util/worker-once.js';
import type { Startup } from './startup.js';

/** What the worker posts back. */
export type StartupAnswer =
  | { kind: 'ok'; startup: Startup }
  | { kind: 'config-error'; file: string; keyPath: string; expected: string };

const WORKER = new URL('./startup-worker.js', import.meta.url);

/**
 * The start-up reads in a worker thread. If the worker fails for any reason but a config error, the
 * reads happen in-process (zod and yaml then stay loaded) and `workerError` says why, for the log.
 */
export async function prepareStartupIsolated(file: string | undefined, env: NodeJS.ProcessEnv, entry: URL = WORKER): Promise<Startup & { workerError?: string }> {
  let answer: StartupAnswer;
  try {
    answer = await answerFromWorker<StartupAnswer>(entry, { file, env: { ...env } });
  } catch (err) {
    return { ...(await import('./startup.js')).prepareStartup(file, env), workerError: errorMessage(err) };
  }
  if (answer.kind === 'config-error') throw new ConfigError(answer.file, answer.keyPath, answer.expected);
  return answer.startup;
}
