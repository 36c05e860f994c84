// A tiny agent for crash tests: a pipeline on a given state dir with one file output, accepting
// numbered events and printing `ack N` (synchronously) once each accept() resolves.
// Usage: node crash-harness.js '<json HarnessArgs>'
import { writeSync } from 'node:fs';
import { createPipeline } from '../../../agent/pipeline/index.js';
import type { FaultPoint } from '../../../agent/pipeline/fault.js';
import { createFileTransport } from '../../../transports/file/transport.js';
import type { Transport } from '../../../transports/types.js';
import { outputConfig, pipelineOptions, testDoc } from '../../unit/agent/pipeline/support.js';

export interface HarnessArgs {
  stateDir: string;
  outPath: string;
  /** down: the output answers retryable; up: it writes the file; drain: up, exit once all is delivered. */
  mode: 'down' | 'up' | 'drain';
  first: number;
  count: number;
  /** Kill ourselves (SIGKILL) at the `crashAfter`-th time this point is reached. */
  crashAt?: FaultPoint;
  crashAfter?: number;
  fsync?: 'always' | 'interval' | 'never';
}

const args = JSON.parse(process.argv[2] ?? '{}') as HarnessArgs;
const pause = new Int32Array(new SharedArrayBuffer(4));
/**
 * Synchronous, so a line is out before a SIGKILL can follow; stdout is a non-blocking pipe, so a
 * full pipe (a parent slow to read under load) answers EAGAIN: wait a millisecond and write the rest.
 */
const say = (line: string): void => {
  const buf = Buffer.from(`${line}\n`);
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
};
let hits = 0;
const fault = args.crashAt === undefined ? undefined : (point: FaultPoint): void => {
  if (point === args.crashAt && ++hits >= (args.crashAfter ?? 1)) {
    say(`crash ${point}`);
    process.kill(process.pid, 'SIGKILL');
  }
};

const file = createFileTransport({ type: 'file', path: args.outPath, max_bytes: 1024 ** 4, max_files: 1 });
const transport: Transport = args.mode === 'down'
  ? { type: 'file', start: () => file.start(), flush: () => file.flush(), shutdown: () => file.shutdown(), send: () => Promise.resolve({ kind: 'retryable', reason: 'down' }) }
  : file;
const pipeline = createPipeline(pipelineOptions(args.stateDir, [{ name: 'file', transport, config: outputConfig('file', { batch: { max_events: 50, max_wait: 5 } }) }], {
  spool: { segment_bytes: 64 * 1024, fsync: args.fsync ?? 'interval', fsync_interval: 50 },
  ...(fault === undefined ? {} : { fault }),
}));

const alive = setInterval(() => undefined, 1000);
process.on('SIGTERM', () => {
  void pipeline.shutdown().then(() => { say('stopped'); clearInterval(alive); process.exit(0); });
});

await pipeline.start();
say('started');
const inFlight = new Set<Promise<void>>();
for (let n = args.first; n < args.first + args.count; n++) {
  const p: Promise<void> = pipeline.accept(testDoc(n)).then(() => { say(`ack ${n}`); }, () => undefined).finally(() => inFlight.delete(p));
  inFlight.add(p);
  if (inFlight.size >= 16) await Promise.race(inFlight);
}
await Promise.all(inFlight);
say('accepted');
if (args.mode === 'drain') {
  while ((pipeline.stats().outputs[0]?.queuedEvents ?? 1) > 0) await new Promise((r) => setTimeout(r, 20));
  await pipeline.shutdown();
  say('drained');
  clearInterval(alive);
}
