// What linux-collector.bench.ts and first-poll.ts share: CPU read from /proc (children included)
// and the watch over a Linux source that they measure.
import { readFileSync } from 'node:fs';
import { isShellLike } from '../agent/detect/shell-like.js';
import { DocumentBuilder } from '../agent/ecs/builder.js';
import type { EcsDocument } from '../agent/ecs/document.js';
import { sampleAgent, sampleHost } from '../agent/ecs/samples.js';
import { ProcessTable } from '../agent/lineage/process-table.js';
import { silentLogger } from '../agent/log/logger.js';
import { runtimeHousekeeping } from '../agent/runtime/memory-housekeeping.js';
import { LinuxSource } from '../agent/sources/linux/index.js';
import { Watcher } from '../agent/watch/watcher.js';

export const CLK_TCK = 100;

/** utime+stime+cutime+cstime of a process in ms (children it has waited for included). */
export function cpuOf(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0) * (1000 / CLK_TCK);
}

/** A Linux source and the watch over it, as `run` sets them up (process events tracked, not shipped). */
export function collectorWatcher(accept: (doc: EcsDocument) => Promise<void>): { source: LinuxSource; watcher: Watcher } {
  const source = new LinuxSource({ logger: silentLogger, housekeeping: runtimeHousekeeping, stdinChecked: isShellLike });
  const watcher = new Watcher({
    source, builder: new DocumentBuilder(sampleHost, sampleAgent), table: new ProcessTable({ hostId: 'h', bootId: 'b' }),
    sink: { accept }, logger: silentLogger, intervalMs: 1000, shipProcesses: false,
  });
  return { source, watcher };
}
