/**
 * Runs a worker thread for one answer. Work that needs a large library only once (host metadata
 * with systeminformation, config validation with zod and yaml) runs in its own isolate, which is
 * freed when the worker ends: a module loaded into the agent's isolate would stay resident for as
 * long as the agent runs.
 */
import { Worker } from 'node:worker_threads';
import { PortwardenError } from './errors.js';

/** Resolves with the worker's first message, then terminates it; rejects if it fails or exits first. */
export function answerFromWorker<T>(entry: URL, workerData: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(entry, { workerData });
    // Libraries may leave timers or handles behind; the worker is not needed after its answer.
    worker.once('message', (answer: T) => {
      resolve(answer);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => { reject(new PortwardenError('WORKER_EXITED', `worker ${entry.pathname} exited with code ${code} before answering`)); });
  });
}
