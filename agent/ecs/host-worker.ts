/** Worker-thread entry of readHostContextInWorker (host-isolated.ts): reads host metadata once. */
import { parentPort, workerData } from 'node:worker_threads';
import { readHostContext } from './host.js';

const { fallbackId } = workerData as { fallbackId: string };
parentPort?.postMessage(await readHostContext(fallbackId));
