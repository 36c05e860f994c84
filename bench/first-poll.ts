// The agent's first poll as `portwarden run` makes it: a fresh process with the agent's runtime
// tuning (imported first, as bin.ts does) and no code compiled yet. Prints the CPU ms of the first
// watch tick (the poll and its 2,000 documents) as JSON. Run by linux-collector.bench.ts.
import '../agent/runtime/heap-tuning.js';
import { collectorWatcher, cpuOf } from './collector.js';

const { source, watcher } = collectorWatcher(() => Promise.resolve());
await source.start();
const c0 = cpuOf('self');
await watcher.tick();
console.log(JSON.stringify({ ms: cpuOf('self') - c0 }));
