/**
 * Host metadata for the long-running agent, read in a short-lived worker thread.
 *
 * systeminformation is needed once, at start-up (host.ts), but a module loaded into the agent's
 * isolate stays there: its 700 KB of source and the code compiled from it cost about 2 MB of the
 * agent's resident memory for as long as it runs. If the worker cannot run, the metadata is read
 * in-process instead.
 */
import { answerFromWorker } from '../util/worker-once.js';
import type { HostContext } from './host.js';

export async function readHostContextInWorker(fallbackId: string): Promise<HostContext> {
  try {
    return await answerFromWorker<HostContext>(new URL('./host-worker.js', import.meta.url), { fallbackId });
  } catch {
    return (await import('./host.js')).readHostContext(fallbackId);
  }
}
