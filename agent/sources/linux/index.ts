import { readFileSync, readlinkSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';
import type { Logger } from '../../log/logger.js';
import type { ListenerRecord, ProcessRecord, Snapshot, Source, SourceInfo } from '../types.js';
import { ListenerReader } from './listener-reader.js';
import type { NamespaceRows } from './listener-reader.js';
import { parseBtime, parseNsLink } from './proc-parsers.js';
import { listPids, readLight, readProcess, readStartKey, readTaskCounters, UserNames } from './process-reader.js';
import type { ReadDepth } from './process-reader.js';
import type { ProcessReadContext } from './process-reader.js';
import { loadSockDiag } from './sock-diag.js';
import type { SockDiag } from './sock-diag.js';
import { SocketOwners } from './socket-owners.js';
import { beginBurst, endBurst, reduceHeap } from '../../util/v8-flags.js';

/** Existing pids re-checked per tick for PID reuse (their start time is re-read). */
const REUSE_CHECKS_PER_TICK = 16;
/** The initial pid namespace (PROC_PID_INIT_INO); every task on the host has a pid in it. */
const INIT_PID_NS = 'pid:[4026531836]';
/** /proc is listed at least every this many polls, even with unchanged task counters. */
const LIST_AT_LEAST_EVERY = 30;
/**
 * Processes read in full per poll. When more appear at once (the first poll, a fork storm), all of
 * them are read light (stat, uid, netns); listener owners and their ancestors are completed in the
 * same poll and the rest over the following polls, this many per poll, so no poll costs much more
 * than a steady one.
 */
export const FULL_READS_PER_POLL = 128;
/** Shortest time between two hand-backs of the C heap's free pages (glibc malloc_trim). */
const TRIM_MIN_GAP_MS = 10_000;
const CAP_DAC_READ_SEARCH = 2n;
const CAP_SYS_PTRACE = 19n;

export interface LinuxSourceOptions {
  logger: Logger;
  /** Processes read in full per poll (FULL_READS_PER_POLL); lower values are for tests. */
  fullReadsPerPoll?: number;
  /**
   * Where the host's task counters come from (default: <procRoot>/loadavg when the agent sees the
   * initial pid namespace, else none and /proc is listed every poll); replaced in tests.
   */
  taskCounters?: () => string | undefined;
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
  private readonly diag: SockDiag | undefined = loadSockDiag();
  private processes = new Map<number, ProcessRecord>();
  private knownInodes = new Set<number>();
  private namespaces: Map<string, number> | undefined;
  private lastSig = '';
  private lastRows: (ListenerRecord & { zone?: string })[] = [];
  private lastInodes: number[] = [];
  private rereadChanged = false;
  private reuseCursor = 0;
  private ownNetns: string | undefined;
  /** Pids whose records are still `detailsPending`, in the order they were seen. */
  private readonly pending = new Set<number>();
  private fullReads = 0;
  /** A burst (a light read or a large listener change) whose follow-up (settleAfterBurst) is due. */
  private burstOpen = false;
  private lastTrim = 0;
  /** Reads the host's task counters; undefined outside the initial pid namespace. */
  private readCounters: (() => string | undefined) | undefined;
  /** /proc/loadavg's task counters at the last listing of /proc, and polls since that listing. */
  private taskCounters: string | undefined;
  private unlistedPolls = 0;
  private gcWatch: PerformanceObserver | undefined;
  private trimTimer: NodeJS.Timeout | undefined;
  private readonly fullReadsPerPoll: number;

  constructor(opts: LinuxSourceOptions) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.reader = new ListenerReader(this.procRoot, opts.ssPath, opts.nsenterPath);
    this.owners = new SocketOwners(this.procRoot);
    this.fullReadsPerPoll = Math.max(1, opts.fullReadsPerPoll ?? FULL_READS_PER_POLL);
    this.readCounters = opts.taskCounters;
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
    if (this.readCounters === undefined && this.seesInitPidNs()) {
      const root = this.procRoot;
      this.readCounters = () => readTaskCounters(root);
    }
    this.watchMajorGc();
    return Promise.resolve();
  }

  /** Whether the agent sees the initial pid namespace, where /proc/loadavg's counters cover every task. */
  private seesInitPidNs(): boolean {
    try {
      return readlinkSync(`${this.procRoot}/self/ns/pid`) === INIT_PID_NS;
    } catch {
      return false;
    }
  }

  /**
   * Buffers (documents on their way to the outputs) live in the C heap and are freed when V8's
   * major GC finalizes them; glibc keeps the freed pages. A second after a major GC they are handed
   * back: 10 of 15 MB of C heap on the 2,000-listener bench host. At most one trim per
   * TRIM_MIN_GAP_MS; a GC inside the gap moves the trim to the gap's end instead of dropping it
   * (start-up has several major GCs; V8's memory reduction, the one that frees most, comes last).
   */
  private watchMajorGc(): void {
    if (this.diag === undefined || this.gcWatch !== undefined) return;
    this.gcWatch = new PerformanceObserver((list) => {
      const major = list.getEntries().some((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      if (!major || this.trimTimer !== undefined) return;
      const wait = Math.max(1000, this.lastTrim + TRIM_MIN_GAP_MS - Date.now());
      this.trimTimer = setTimeout(() => {
        this.trimTimer = undefined;
        this.lastTrim = Date.now();
        this.diag?.trimMemory();
      }, wait).unref();
    });
    this.gcWatch.observe({ entryTypes: ['gc'] });
  }

  /** Processes whose details are still to be read (start-up or a fork storm); 0 in steady state. */
  get pendingDetails(): number {
    return this.pending.size;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.gcWatch?.disconnect();
    this.gcWatch = undefined;
    clearTimeout(this.trimTimer);
    this.trimTimer = undefined;
    return Promise.resolve();
  }

  info(): SourceInfo {
    const limitations = this.privileged ? [] : [
      'running without root or CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH: listeners of other users\' processes are reported without an owner, and their executables and working directories are unknown',
    ];
    return {
      platform: 'linux',
      listenerPath: this.reader.describe(),
      processPath: this.readCounters === undefined
        ? '/proc (new pids only; a rotating PID-reuse check)'
        : '/proc (listed when /proc/loadavg\'s task counters change; new pids only; a rotating PID-reuse check)',
      privileged: this.privileged,
      limitations,
    };
  }

  /** Updates the process table in place; returns the new pids (newest first) and whether anything changed. */
  private refreshProcesses(warnings: string[]): { newPids: number[]; changed: boolean } {
    // In the initial pid namespace, /proc/loadavg's task count and last pid move with every task
    // created or reaped on the host (containers' included). Unchanged since the last listing: the
    // same processes with the same start times (a reused pid needs a new task), so neither the
    // listing (1,000 entries: 2 ms of CPU) nor the PID-reuse check is needed.
    const counters = this.readCounters?.();
    if (counters !== undefined && counters === this.taskCounters && this.pending.size === 0 && ++this.unlistedPolls < LIST_AT_LEAST_EVERY) {
      return { newPids: [], changed: false };
    }
    this.taskCounters = counters;
    this.unlistedPolls = 0;
    const pids = listPids(this.procRoot);
    const procs = this.processes;
    const alive = new Set(pids);
    let changed = false;
    for (const pid of procs.keys()) {
      if (!alive.has(pid)) {
        procs.delete(pid);
        this.pending.delete(pid);
        changed = true;
      }
    }
    const newPids: number[] = [];
    const existing: number[] = [];
    const unseen: number[] = [];
    for (const pid of pids) (procs.has(pid) ? existing : unseen).push(pid);
    const depth: ReadDepth = unseen.length > this.fullReadsPerPoll ? 'light' : 'full';
    if (depth === 'light') {
      this.burstOpen = true;
      beginBurst();
      for (const rec of readLight(unseen, this.ctx, this.diag)) {
        procs.set(rec.pid, rec);
        newPids.push(rec.pid);
        this.pending.add(rec.pid);
      }
    } else {
      for (const pid of unseen) {
        const rec = this.readFull(pid);
        if (rec !== undefined) {
          procs.set(pid, rec);
          newPids.push(pid);
        }
      }
    }
    // A pid that exited and came back between two ticks is a new process: check a slice each tick.
    const n = Math.min(REUSE_CHECKS_PER_TICK, existing.length);
    for (let i = 0; i < n; i++) {
      const pid = existing[(this.reuseCursor + i) % existing.length] ?? 0;
      const key = readStartKey(pid, this.procRoot);
      if (key !== undefined && key !== procs.get(pid)?.startKey) {
        const rec = this.readFull(pid);
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
    // A new process's event and its parent-child detection need its parents' details.
    for (const pid of newPids) {
      if (procs.get(pid)?.detailsPending !== true) this.completeChain(procs.get(pid)?.ppid ?? 0);
    }
    if (depth === 'full' && this.drainPending()) changed = true;
    // Newest first: a fresh listener most likely belongs to a fresh process.
    const startOf = new Map(newPids.map((pid) => [pid, Number(procs.get(pid)?.startKey ?? 0)]));
    newPids.sort((a, b) => (startOf.get(b) ?? 0) - (startOf.get(a) ?? 0));
    return { newPids, changed };
  }

  /**
   * A burst (the first scan, thousands of listeners coming or going) runs with V8's burst settings
   * (util/v8-flags.ts) and leaves garbage behind: in V8's heap and, as freed pages, in the C heap
   * (buffers of the documents it produced). The poll after the last pending record was completed
   * restores V8's settings, has V8 compact its heap now (reduceHeap) and hands the C heap's pages
   * back to the kernel (and again after the next major GC, watchMajorGc).
   */
  private settleAfterBurst(): void {
    if (!this.burstOpen || this.pending.size > 0) return;
    this.burstOpen = false;
    endBurst();
    reduceHeap();
    this.diag?.trimMemory();
  }

  /** False while start-up work (or a burst's follow-up) is left for the coming polls. */
  get settled(): boolean {
    return this.pending.size === 0 && !this.burstOpen;
  }

  /** Reads a process in full (no longer pending), counting this poll's full reads. */
  private readFull(pid: number): ProcessRecord | undefined {
    this.fullReads++;
    this.pending.delete(pid);
    return readProcess(pid, this.ctx, 'full');
  }

  /** Completes a pending record in place of the light one; true when the table changed. */
  private complete(pid: number): boolean {
    if (!this.pending.has(pid)) return false;
    const prev = this.processes.get(pid);
    const rec = this.readFull(pid);
    if (prev === undefined || rec === undefined) return false;
    this.processes.set(pid, rec);
    return true;
  }

  /** Completes a process and its ancestors (a listener's owner, a new process's parents). */
  private completeChain(pid: number): boolean {
    // Steady state: nothing is pending, so no chain needs walking.
    if (this.pending.size === 0) return false;
    let changed = false;
    for (let cur = pid, depth = 0; cur > 0 && depth < 64; depth++) {
      const rec = this.processes.get(cur);
      if (rec === undefined) break;
      if (rec.detailsPending === true && this.complete(cur)) changed = true;
      if (rec.ppid === cur) break;
      cur = rec.ppid;
    }
    return changed;
  }

  /** Completes pending records, up to this poll's remaining budget of full reads. */
  private drainPending(): boolean {
    let changed = false;
    for (const pid of this.pending) {
      if (this.fullReads >= this.fullReadsPerPoll) break;
      if (!this.processes.has(pid)) {
        this.pending.delete(pid);
        continue;
      }
      if (this.complete(pid)) changed = true;
    }
    return changed;
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
    this.fullReads = 0;
    this.settleAfterBurst();
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
    // The loops live in small methods: V8 optimizes those quickly, where optimizing all of poll()
    // (on-stack, mid-loop) cost tens of ms of compiler time on a host with thousands of listeners.
    const rows = this.toRecords(dumps);
    const listening = new Map<number, number | undefined>();
    for (const r of rows) listening.set(r.inode, r.uid);
    const owners = this.owners.resolve(listening, this.processes, newPids);
    const sig = this.attachOwners(rows, owners, new Set(newPids));
    if (Math.abs(listening.size - this.knownInodes.size) > this.fullReadsPerPoll) this.burstOpen = true;
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

  /** Dumped rows -> listener records (owners attached later). */
  private toRecords(dumps: readonly { netns: string; rows: NamespaceRows['rows'] }[]): (ListenerRecord & { zone?: string })[] {
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
    return rows;
  }

  /** Sets each record's owners, completes their lineage, and returns the signature of the set. */
  private attachOwners(rows: (ListenerRecord & { zone?: string })[], owners: ReadonlyMap<number, number[]>, fresh: ReadonlySet<number>): string {
    let sig = '';
    for (const row of rows) {
      row.owners = owners.get(row.inode) ?? [];
      if (!this.knownInodes.has(row.inode)) this.refreshOwners(row.owners, fresh);
      // The listener's document carries its owner and ancestry: never from a light record.
      if (row.owners[0] !== undefined && this.completeChain(row.owners[0])) this.rereadChanged = true;
      sig += `${row.netns}/${row.inode}/${row.owners.join('.')},`;
    }
    return sig;
  }

  private sameInodes(dumps: readonly { rows: readonly { inode: number }[] }[]): boolean {
    let i = 0;
    for (const d of dumps) {
      for (const r of d.rows) if (this.lastInodes[i++] !== r.inode) return false;
    }
    return i === this.lastInodes.length;
  }

  /** An old process that opens a new listener may have exec'd since we read it: read it again. */
  private refreshOwners(pids: number[], fresh: ReadonlySet<number>): void {
    for (const pid of pids) if (!fresh.has(pid)) this.reread(pid);
  }

  /** Re-reads a known process; keeps the new record when the same process exec'd a new image. */
  private reread(pid: number): boolean {
    if (this.pending.has(pid)) {
      const completed = this.complete(pid);
      if (completed) this.rereadChanged = true;
      return completed;
    }
    const prev = this.processes.get(pid);
    const rec = this.readFull(pid);
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
