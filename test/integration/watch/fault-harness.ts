// A watcher as the agent runs it (its own poll timer, a real pipeline with a file output), with
// faults injected on the event path: detection throws, the pipeline rejects or throws on accept,
// the collector fails, real-time deliveries arrive. Prints `faults N`, then, once the faults stop,
// `delivered PORT` when a new listener's event reached the file. No handler for uncaught errors is
// installed: one that escapes ends this process with exit 1, as it would end the agent.
// Usage: node fault-harness.js <state dir> <output file>
import { readFileSync, writeSync } from 'node:fs';
import { DocumentBuilder } from '../../../agent/ecs/builder.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { sampleAgent, sampleHost } from '../../../agent/ecs/samples.js';
import { ProcessTable } from '../../../agent/lineage/process-table.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { createPipeline } from '../../../agent/pipeline/index.js';
import { FakeRealtimeFeed, FakeSource } from '../../../agent/sources/fake.js';
import type { ListenerRecord, ProcessRecord } from '../../../agent/sources/types.js';
import { Watcher } from '../../../agent/watch/watcher.js';
import { createFileTransport } from '../../../transports/file/transport.js';
import { outputConfig, pipelineOptions } from '../../unit/agent/pipeline/support.js';

const [stateDir = '', outPath = ''] = process.argv.slice(2);
const say = (line: string): void => { writeSync(1, `${line}\n`); };
const T0 = Date.now();
const proc = (pid: number, name: string): ProcessRecord => ({ pid, ppid: 1, startKey: String(pid), start: new Date(T0).toISOString(), name, executable: `/usr/bin/${name}` });
const listener = (port: number): ListenerRecord => ({ netns: 'n1', transport: 'tcp', family: 'ipv4', address: '0.0.0.0', port, inode: port, owners: [100] });

let faulty = true;
let faults = 0;
let n = 0;
/** Every third call on the event path fails while `faulty`, in turn each way it can. */
const strike = (): number | undefined => (faulty && ++n % 3 === 0 ? ++faults : undefined);

const file = createFileTransport({ type: 'file', path: outPath, max_bytes: 1024 ** 3, max_files: 1 });
const pipeline = createPipeline(pipelineOptions(stateDir, [{ name: 'file', transport: file, config: outputConfig('file', { batch: { max_events: 50, max_wait: 5 } }) }]));
const source = new FakeSource();
const feed = new FakeRealtimeFeed();
source.feed = feed;
source.setProcesses([proc(1, 'init'), proc(100, 'python3')]);
const watcher = new Watcher({
  source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }), logger: silentLogger,
  intervalMs: 20, shipProcesses: true,
  sink: {
    accept: (doc: EcsDocument) => {
      const f = strike();
      if (f === undefined) return pipeline.accept(doc);
      if (f % 2 === 0) throw new TypeError(`injected: accept threw (${f})`);
      return Promise.reject(new Error(`injected: accept rejected (${f})`));
    },
  },
  detect: () => {
    const f = strike();
    if (f !== undefined) throw new TypeError(`injected: a rule threw (${f})`);
    return [];
  },
});

await pipeline.start();
await watcher.start();
let port = 20000;
const churn = setInterval(() => {
  // New listeners every 10 ms for the polls, and real-time deliveries between them.
  port++;
  source.listeners = [listener(port), listener(port + 5000)];
  feed.emit([{ kind: 'listen', record: listener(port + 10000), at: Date.now() }]);
  if (port % 7 === 0) source.fail = new Error('injected: collector failed');
}, 10);
while (faults < 60) await new Promise((r) => setTimeout(r, 10));
faulty = false;
clearInterval(churn);
say(`faults ${faults}`);
source.listeners = [listener(9999)];
const delivered = (): boolean => readFileSync(outPath, 'utf8').includes('"port":9999');
const deadline = Date.now() + 30_000;
while (!delivered() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
if (delivered()) say('delivered 9999');
await watcher.shutdown();
await pipeline.shutdown();
