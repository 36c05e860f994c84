// The agent's first poll as `portwarden run` makes it: a fresh process with the agent's runtime
// tuning (imported first, as bin.ts does) and no code compiled yet. Prints the CPU ms of the first
// watch tick (the poll and its 2,000 documents) as JSON. Run by linux-collector.bench.ts.
import '../agent/cli/heap-tuning.js';
import { readFileSync } from 'node:fs';
import { DocumentBuilder } from '../agent/ecs/builder.js';
import { sampleAgent, sampleHost } from '../agent/ecs/samples.js';
import { ProcessTable } from '../agent/lineage/process-table.js';
import { silentLogger } from '../agent/log/logger.js';
import { LinuxSource } from '../agent/sources/linux/index.js';
import { Watcher } from '../agent/watch/watcher.js';

function cpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0) * 10;
}

const source = new LinuxSource({ logger: silentLogger });
const watcher = new Watcher({
  source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }),
  sink: { accept: () => Promise.resolve() }, logger: silentLogger, intervalMs: 1000, shipProcesses: false,
});
await source.start();
const c0 = cpuMs();
await watcher.tick();
console.log(JSON.stringify({ ms: cpuMs() - c0 }));
