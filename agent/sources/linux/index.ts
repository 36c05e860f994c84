import { readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../../log/logger.js';
import type { ListenerRecord, ProcessRecord, Snapshot, Source, SourceInfo } from '../types.js';
import { ListenerReader } from './listener-reader.js';
import type { NamespaceRows } from './listener-reader.js';
import { parseBtime, parseNsLink } from './proc-parsers.js';
import { listPids, readProcess, readStartKey, UserNames } from './process-reader.js';
import type { ProcessReadContext } from './process-reader.js';
import { SocketOwners } from './socket-owners.js';

/** Existing pids re-checked per tick for PID reuse (their start time is re-read). */
const REUSE_CHECKS_PER_TICK = 16;
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
  private namespaces: Map<string, number> | undefined;
  private lastSig = '';
  private lastRows: (ListenerRecord & { zone?: string })[] = [];
  private lastInodes: number[] = [];
  private rereadChanged = false;
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
    // Capabilities, not uid 0: a root in a restricted container may lack them.
    this.privileged = has(CAP_SYS_PTRACE) && has(CAP_DAC_READ_SEARCH);
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

  /** Updates the process table in place; returns the new pids (newest first) and whether anything changed. */
  private refreshProcesses(warnings: string[]): { newPids: number[]; changed: boolean } {
    const pids = listPids(this.procRoot);
    const procs = this.processes;
    const alive = new Set(pids);
    let changed = false;
    for (const pid of procs.keys()) {
      if (!alive.has(pid)) {
        procs.delete(pid);
        changed = true;
      }
    }
    const newPids: number[] = [];
    const existing: number[] = [];
    for (const pid of pids) {
      if (procs.has(pid)) {
        existing.push(pid);
        continue;
      }
      const rec = readProcess(pid, this.ctx);
      if (rec !== undefined) {
        procs.set(pid, rec);
        newPids.push(pid);
      }
    }
    // A pid that exited and came back between two ticks is a new process: check a slice each tick.
    const n = Math.min(REUSE_CHECKS_PER_TICK, existing.length);
    for (let i = 0; i < n; i++) {
      const pid = existing[(this.reuseCursor + i) % existing.length] ?? 0;
      const key = readStartKey(pid, this.procRoot);
      if (key !== undefined && key !== procs.get(pid)?.startKey) {
        const rec = readProcess(pid, this.ctx);
        if (rec !== undefined) {
          procs.set(pid, rec);
          newPids.push(pid);
        }
      }
    }
    this.reuseCursor = existing.length === 0 ? 0 : (this.reuseCursor + n) % existing.length;
    if (procs.size === 0) warnings.push(`no process readable under ${this.procRoot}`);
    // A parent that forks a new child may have exec'd since we read it (`ip netns exec`, shells).
    const fresh = new Set(newPids);
    for (const ppid of new Set(newPids.map((p) => procs.get(p)?.ppid ?? 0))) {
      if (ppid > 0 && !fresh.has(ppid) && this.reread(ppid)) changed = true;
    }
    if (newPids.length > 0) {
      changed = true;
      this.namespaces = undefined;
    }
    // Newest first: a fresh listener most likely belongs to a fresh process.
    newPids.sort((a, b) => Date.parse(procs.get(b)?.start ?? '') - Date.parse(procs.get(a)?.start ?? ''));
    return { newPids, changed };
  }

  /** One representative pid per network namespace other than ours; recomputed when processes come or go. */
  private otherNamespaces(): Map<string, number> {
    const cached = this.namespaces;
    if (cached !== undefined && [...cached.values()].every((pid) => this.processes.has(pid))) return cached;
    const namespaces = new Map<string, number>();
    for (const p of this.processes.values()) {
      if (p.netns !== undefined && p.netns !== this.ownNetns && !namespaces.has(p.netns)) namespaces.set(p.netns, p.pid);
    }
    this.namespaces = namespaces;
    return namespaces;
  }

  async poll(): Promise<Snapshot> {
    const takenAt = new Date();
    const warnings: string[] = [];
    this.rereadChanged = false;
    const { newPids, changed } = this.refreshProcesses(warnings);

    const targets: [string, number | 'self'][] = [[this.ownNetns ?? 'host', 'self'], ...this.otherNamespaces()];
    const dumps: { netns: string; rows: NamespaceRows['rows'] }[] = [];
    for (const [netns, pid] of targets) {
      const r = await this.reader.read(pid, pid === 'self');
      warnings.push(...r.warnings);
      dumps.push({ netns, rows: r.rows });
    }
    // Steady state: no process came or went and the kernel lists the same sockets in the same
    // order, so owners cannot have changed either. Nothing else to do this tick.
    if (!changed && this.sameInodes(dumps)) {
      return { takenAt, listeners: this.lastRows, processes: this.processes, warnings, changed: { processes: false, listeners: false } };
    }
    this.lastInodes = dumps.flatMap((d) => d.rows.map((r) => r.inode));
    const rows: (ListenerRecord & { zone?: string })[] = [];
    for (const { netns, rows: dumped } of dumps) {
      for (const row of dumped) {
        const rec: ListenerRecord & { zone?: string } = {
          netns, transport: row.transport, family: row.family, address: row.address, port: row.port, inode: row.inode, owners: [],
        };
        if (row.uid !== undefined) {
          rec.uid = row.uid;
          const name = this.ctx.users.lookup(row.uid);
          if (name !== undefined) rec.userName = name;
        }
        if (row.zone !== undefined) rec.zone = row.zone;
        rows.push(rec);
      }
    }

    const listening = new Map<number, number | undefined>();
    for (const r of rows) listening.set(r.inode, r.uid);
    const owners = this.owners.resolve(listening, this.processes, newPids);
    const fresh = new Set(newPids);
    let sig = '';
    for (const row of rows) {
      row.owners = owners.get(row.inode) ?? [];
      if (!this.knownInodes.has(row.inode)) this.refreshOwners(row.owners, fresh);
      sig += `${row.netns}/${row.inode}/${row.owners.join('.')},`;
    }
    this.knownInodes = new Set(listening.keys());
    const listenersChanged = sig !== this.lastSig;
    this.lastSig = sig;
    if (listenersChanged) this.lastRows = rows;
    return {
      takenAt,
      listeners: this.lastRows,
      processes: this.processes,
      warnings,
      changed: { processes: changed || this.rereadChanged, listeners: listenersChanged },
    };
  }

  private sameInodes(dumps: readonly { rows: readonly { inode: number }[] }[]): boolean {
    let i = 0;
    for (const d of dumps) {
      for (const r of d.rows) if (this.lastInodes[i++] !== r.inode) return false;
    }
    return i === this.lastInodes.length;
  }

  /** An old process that opens a new listener may have exec'd since we read it: read it again. */
  private refreshOwners(pids: number[], fresh: Set<number>): void {
    for (const pid of pids) if (!fresh.has(pid)) this.reread(pid);
  }

  /** Re-reads a known process; keeps the new record when the same process exec'd a new image. */
  private reread(pid: number): boolean {
    const prev = this.processes.get(pid);
    const rec = readProcess(pid, this.ctx);
    if (prev !== undefined && rec !== undefined && rec.startKey === prev.startKey
      && (rec.executable !== prev.executable || rec.commandLine !== prev.commandLine || rec.name !== prev.name)) {
      this.processes.set(pid, rec);
      this.rereadChanged = true;
      return true;
    }
    return false;
  }
}

export function createLinuxSource(opts: LinuxSourceOptions): Source {
  return new LinuxSource(opts);
}
