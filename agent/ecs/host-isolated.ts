/**
 * Host metadata for the long-running agent, read in a short-lived worker thread.
 *
 * systeminformation is needed once, at start-up (host.ts), but a module loaded into the agent's
 * isolate stays there: its 700 KB of source and the code compiled from it cost about 2 MB of the
 * agent's resident memory for as long as it runs. A worker thread has its own isolate, freed when
 * it exits. If the worker cannot run, the metadata is read in-process instead.
 */
import { Worker } from 'node:worker_threads';
import type { HostContext } from './host.js';

export async function readHostContextInWorker(fallbackId: string): Promise<HostContext> {
  try {
    return await new Promise<HostContext>((resolve, reject) => {
      const worker = new Worker(new URL('./host-worker.js', import.meta.url), { workerData: { fallbackId } });
      // systeminformation may leave timers or handles behind; the worker is not needed after its answer.
      worker.once('message', (host: HostContext) => {
        resolve(host);
        void worker.terminate();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => { reject(new Error(`host metadata worker exited with code ${code}`)); });
    });
  } catch {
    return (await import('./host.js')).readHostContext(fallbackId);
  }
}
