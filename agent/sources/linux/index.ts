import { readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../../log/logger.js';
import type { ListenerRecord, ProcessRecord, Snapshot, Source, SourceInfo } from '../types.js';
import { ListenerReader } from './listener-reader.js';
import { parseBtime, parseNsLink } from './proc-parsers.js';
import { listPids, readProcess, readStartKey, UserNames } from './process-reader.js';
import type { ProcessReadContext } from './process-reader.js';
import { SocketOwners } from './socket-owners.js';

/** Existing pids re-checked per tick for PID reuse (their start time is re-read). */
const REUSE_CHECKS_PER_TICK = 64;
const CAP_DAC_READ_SEARCH = 2n;
const CAP_SYS_PTRACE = 19n;

export interface LinuxSourceOptions {
  logger: Logger;
  procRoot?: string;
  ssPath?: string;
  nsenterPath?: string;
}

function effectiveCaps(procRoot: string): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`${procRoot}/self/status`, 'utf8'));
    return m?.[1] === undefined ? 0n : BigInt(`0x${m[1]}`);
  } catch {
    return 0n;
  }
}

/** Listeners and processes from /proc and NETLINK_SOCK_DIAG, for every network namespace. */
export class LinuxSource implements Source {
  private readonly procRoot: string;
  private readonly reader: ListenerReader;
  private readonly owners: SocketOwners;
  private readonly ctx: ProcessReadContext;
  private readonly privileged: boolean;
  private processes = new Map<number, ProcessRecord>();
  private knownInodes = new Set<number>();
  private reuseCursor = 0;
  private ownNetns: string | undefined;

  constructor(opts: LinuxSourceOptions) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.reader = new ListenerReader(this.procRoot, opts.ssPath, opts.nsenterPath);
    this.owners = new SocketOwners(this.procRoot);
    const btime = parseBtime(readFileSync(`${this.procRoot}/stat`, 'utf8')) ?? 0;
    this.ctx = { procRoot: this.procRoot, bootTimeMs: btime * 1000, clockTicks: 100, users: new UserNames() };
    const caps = effectiveCaps(this.procRoot);
    const has = (bit: bigint) => ((caps >> bit) & 1n) === 1n;
    this.privileged = process.getuid?.() === 0 || (has(CAP_SYS_PTRACE) && has(CAP_DAC_READ_SEARCH));
  }

  start(): Promise<void> {
    try {
      this.ownNetns = parseNsLink(readlinkSync(`${this.procRoot}/self/ns/net`));
    } catch {
      this.ownNetns = undefined;
    }
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  info(): SourceInfo {
    const limitations = this.privileged ? [] : [
      'running without root or CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH: listeners of other users\' processes are reported without an owner, and their executables and working directories are unknown',
    ];
    return {
      platform: 'linux',
      listenerPath: this.reader.describe(),
      processPath: '/proc (new pids only; a rotating PID-reuse check)',
      privileged: this.privileged,
      limitations,
    };
  }

  private refreshProcesses(warnings: string[]): number[] {
    const pids = listPids(this.procRoot);
    const next = new Map<number, ProcessRecord>();
    const newPids: number[] = [];
    for (const pid of pids) {
      const prev = this.processes.get(pid);
      if (prev !== undefined) {
        next.set(pid, prev);
        continue;
      }
      const rec = readProcess(pid, this.ctx);
      if (rec !== undefined) {
        next.set(pid, rec);
        newPids.push(pid);
      }
    }
    // A pid that exited and came back between two ticks is a new process: check a slice each tick.
    const existing = pids.filter((p) => this.processes.has(p));
    for (let i = 0; i < Math.min(REUSE_CHECKS_PER_TICK, existing.length); i++) {
      const pid = existing[(this.reuseCursor + i) % existing.length];
      const prev = pid === undefined ? undefined : next.get(pid);
      if (pid === undefined || prev === undefined) continue;
      const key = readStartKey(pid, this.procRoot);
      if (key !== undefined && key !== prev.startKey) {
        const rec = readProcess(pid, this.ctx);
        if (rec !== undefined) {
          next.set(pid, rec);
          newPids.push(pid);
        }
      }
    }
    this.reuseCursor = existing.length === 0 ? 0 : (this.reuseCursor + REUSE_CHECKS_PER_TICK) % existing.length;
    if (next.size === 0) warnings.push(`no process readable under ${this.procRoot}`);
    this.processes = next;
    // A parent that forks a new child may have exec'd since we read it (`ip netns exec`, shells).
    const fresh = new Set(newPids);
    for (const ppid of new Set(newPids.map((p) => next.get(p)?.ppid ?? 0))) {
      if (ppid > 0 && !fresh.has(ppid)) this.reread(ppid);
    }
    // Newest first: a fresh listener most likely belongs to a fresh process.
    return newPids.sort((a, b) => Date.parse(next.get(b)?.start ?? '') - Date.parse(next.get(a)?.start ?? ''));
  }

  async poll(): Promise<Snapshot> {
    const takenAt = new Date();
    const warnings: string[] = [];
    const newPids = this.refreshProcesses(warnings);

    const namespaces = new Map<string, number>();
    for (const p of this.processes.values()) {
      if (p.netns !== undefined && p.netns !== this.ownNetns && !namespaces.has(p.netns)) namespaces.set(p.netns, p.pid);
    }
    const rows: (ListenerRecord & { zone?: string })[] = [];
    const targets: [string, number | 'self'][] = [[this.ownNetns ?? 'host', 'self'], ...namespaces];
    for (const [netns, pid] of targets) {
      const r = await this.reader.read(pid, pid === 'self');
      warnings.push(...r.warnings);
      for (const row of r.rows) rows.push({ ...row, netns, owners: [] });
    }

    const listening = new Map<number, number | undefined>(rows.map((r) => [r.inode, r.uid]));
    const owners = this.owners.resolve(listening, this.processes, newPids);
    const fresh = new Set(newPids);
    for (const row of rows) {
      row.owners = owners.get(row.inode) ?? [];
      if (!this.knownInodes.has(row.inode)) this.refreshOwners(row.owners, fresh);
    }
    this.knownInodes = new Set(listening.keys());
    return { takenAt, listeners: rows, processes: this.processes, warnings };
  }

  /** An old process that opens a new listener may have exec'd since we read it: read it again. */
  private refreshOwners(pids: number[], fresh: Set<number>): void {
    for (const pid of pids) if (!fresh.has(pid)) this.reread(pid);
  }

  /** Re-reads a known process; keeps the new record when the same process exec'd a new image. */
  private reread(pid: number): void {
    const prev = this.processes.get(pid);
    const rec = readProcess(pid, this.ctx);
    if (prev !== undefined && rec !== undefined && rec.startKey === prev.startKey
      && (rec.executable !== prev.executable || rec.commandLine !== prev.commandLine || rec.name !== prev.name)) {
      this.processes.set(pid, rec);
    }
  }
}

export function createLinuxSource(opts: LinuxSourceOptions): Source {
  return new LinuxSource(opts);
}
