import { readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../../log/logger.js';
import { basicHousekeeping } from '../housekeeping.js';
import type { MakeHousekeeping, MemoryHousekeeping } from '../housekeeping.js';
import type { ConnectionRecord, ListenerRecord, ProcessRecord, RealtimeEvent, RealtimeFeed, Snapshot, Source, SourceInfo } from '../types.js';
import { readConnections } from './connections.js';
import type { NamespaceGroup } from './connections.js';
import { ListenerReader } from './listener-reader.js';
import { ownerStarts, sameListenerSet } from './listener-set.js';
import type { NamespaceRows } from './listener-reader.js';
import { parseBtime, parseNsLink } from './proc-parsers.js';
import { UserNames } from './process-reader.js';
import type { ProcessReadContext } from './process-reader.js';
import type { ProcessDetails } from './process-details.js';
import { ProcessList } from './process-list.js';
import { loadSockDiag } from './sock-diag.js';
import type { SockDiag } from './sock-diag.js';
import { defaultFdWalker, SocketOwners } from './socket-owners.js';
import type { FdWalker } from './socket-owners.js';
import { LinuxRealtimeFeed } from './realtime/feed.js';
import type { ConnectionOptions, RealtimeMode } from './realtime/feed.js';

/**
 * Processes read in full per poll. When more appear at once, the first poll reads of each only its
 * parent, start and network namespace (process-details.ts: deferred), and a fork storm reads them
 * light (stat, uid, netns); listener owners and their ancestors are read in full in the same poll
 * and the rest over the following polls, this many per poll, so no poll costs much more than a
 * steady one.
 */
export const FULL_READS_PER_POLL = 128;
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
  /** The real-time feed to open at start (default: none, polling only: one-shot commands). */
  realtime?: { mode: RealtimeMode; ringBytes: number; nativeDir?: string; connections?: ConnectionOptions };
  ssPath?: string;
  nsenterPath?: string;
  /** Whose socket stdin is checked for TCP (ProcessReadContext.stdinChecked; the agent's: agent/detect/shell-like.ts). */
  stdinChecked?: (comm: string) => boolean;
  /** Memory housekeeping around bursts (the agent's: agent/runtime/, injected by agent/app/context.ts; default basicHousekeeping). */
  housekeeping?: MakeHousekeeping;
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
  private readonly memory: MemoryHousekeeping;
  private readonly list: ProcessList;
  private readonly processes: Map<number, ProcessRecord>;
  private readonly details: ProcessDetails;
  /** Listening inode -> socket uid, as last given to the owner search. */
  private listening = new Map<number, number | undefined>();
  private namespaces: Map<string, number> | undefined;
  /** Start keys of the owners of `lastRows` when they were attached (a holder's pid may name another process later). */
  private lastOwnerStarts = new Map<number, string>();
  private readonly startKeyOf = (pid: number): string | undefined => this.processes.get(pid)?.startKey;
  private lastRows: (ListenerRecord & { zone?: string })[] = [];
  private lastInodes: number[] = [];
  private ownNetns: string | undefined;
  private feed: LinuxRealtimeFeed | undefined;
  private readonly logger: Logger;
  private connWalker: FdWalker | undefined;

  constructor(private readonly opts: LinuxSourceOptions) {
    this.logger = opts.logger;
    this.procRoot = opts.procRoot ?? '/proc';
    this.reader = new ListenerReader(this.procRoot, opts.ssPath, opts.nsenterPath);
    this.owners = new SocketOwners(this.procRoot);
    const btime = parseBtime(readFileSync(`${this.procRoot}/stat`, 'utf8')) ?? 0;
    const diag = this.diag;
    this.memory = (opts.housekeeping ?? basicHousekeeping)(diag === undefined ? undefined : () => { diag.trimMemory(); });
    this.ctx = {
      procRoot: this.procRoot, bootTimeMs: btime * 1000, clockTicks: 100, users: new UserNames(),
      ...(diag === undefined ? {} : { socketProtocol: (fdPath: string) => diag.socketProtocol(fdPath) }),
      ...(opts.stdinChecked === undefined ? {} : { stdinChecked: opts.stdinChecked }),
    };
    this.list = new ProcessList(this.ctx, diag, this.memory, Math.max(1, opts.fullReadsPerPoll ?? FULL_READS_PER_POLL), opts.taskCounters);
    this.processes = this.list.processes;
    this.details = this.list.details;
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
    this.list.start();
    this.memory.watch();
    const rt = this.opts.realtime;
    if (rt !== undefined) {
      this.feed = new LinuxRealtimeFeed({
        requested: rt.mode, ringBytes: rt.ringBytes, ctx: this.ctx, polled: this.processes, logger: this.logger,
        ...(rt.nativeDir === undefined ? {} : { nativeDir: rt.nativeDir }),
        ...(rt.connections === undefined ? {} : { connections: rt.connections }),
      });
      this.feed.open();
    }
    return Promise.resolve();
  }

  /** The running real-time feed; its events also keep this source's records of exec'd processes current. */
  realtime(): RealtimeFeed | undefined {
    const feed = this.feed;
    if (feed === undefined) return undefined;
    return {
      status: () => feed.status(),
      lost: () => feed.lost(),
      connectionStats: () => feed.connectionStats(),
      close: () => { feed.close(); },
      subscribe: (handler) => {
        feed.subscribe((events) => {
          this.noteExecs(events);
          handler(events);
        });
      },
    };
  }

  /**
   * A process this source already holds that exec'd: its record becomes the new image, so the next
   * poll hands the watch the same record instead of the old one (which would undo the exec).
   */
  private noteExecs(events: readonly RealtimeEvent[]): void {
    for (const e of events) {
      if (e.kind !== 'exec') continue;
      const held = this.processes.get(e.record.pid);
      if (held !== undefined && held.startKey === e.record.startKey && held.detailsPending !== true) this.processes.set(e.record.pid, e.record);
    }
  }

  /** The process and its ancestors, child first; deferred ones are read now (their parent fixed as listed). */
  ancestry(pid: number): ProcessRecord[] {
    this.details.completeChain(pid);
    const out: ProcessRecord[] = [];
    for (let cur = pid; cur > 0 && out.length < 64;) {
      const rec = this.processes.get(cur);
      if (rec === undefined) break;
      out.push(rec);
      if (rec.ppid === cur) break;
      cur = rec.ppid;
    }
    return out;
  }

  /** Established TCP connections of `pids` (sock_diag addon only: the /proc/net tables have no byte counters). */
  connections(pids: readonly number[]): ConnectionRecord[] {
    if (this.diag === undefined || pids.length === 0) return [];
    const byNs = new Map<string, number[]>();
    for (const pid of pids) {
      const ns = this.processes.get(pid)?.netns ?? this.ownNetns ?? '';
      const list = byNs.get(ns);
      if (list === undefined) byNs.set(ns, [pid]);
      else list.push(pid);
    }
    const groups: NamespaceGroup[] = [...byNs].map(([netns, list]) => ({ netns, own: netns === (this.ownNetns ?? ''), pids: list }));
    const problems: string[] = [];
    const out = readConnections(this.diag, this.connWalker ??= defaultFdWalker(this.procRoot), this.procRoot, groups, problems);
    for (const p of problems) this.logger.debug(`relay watch: ${p}`);
    return out;
  }

  /** Processes whose details are still to be read (start-up or a fork storm); 0 in steady state. */
  get pendingDetails(): number {
    return this.details.pendingCount;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.feed?.close();
    this.memory.shutdown();
    return Promise.resolve();
  }

  info(): SourceInfo {
    const limitations = this.privileged ? [] : [
      'running without root or CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH: listeners of other users\' processes are reported without an owner, and their executables and working directories are unknown',
    ];
    return {
      platform: 'linux',
      listenerPath: this.reader.describe(),
      processPath: !this.list.gated
        ? '/proc (listed every poll; new pids only; a rotating PID-reuse check)'
        : '/proc (probed or listed when /proc/loadavg\'s task counters change; new pids only)',
      privileged: this.privileged,
      limitations,
      ...(this.feed === undefined ? {} : { realtime: this.feed.status() }),
      ...(this.ownNetns === undefined ? {} : { ownNetns: this.ownNetns }),
    };
  }

  /** False while start-up work (or a burst's follow-up) is left for the coming polls. */
  get settled(): boolean {
    return this.details.pendingCount === 0 && !this.memory.pending;
  }

  /** The network namespace of a live process, read or deferred. */
  private netnsOf(pid: number): string | undefined {
    return (this.processes.get(pid) ?? this.details.deferred.get(pid))?.netns;
  }

  /** New processes in a network namespace not known yet become its representative. */
  private addNamespaces(pids: Iterable<number>, known = this.namespaces): void {
    if (known === undefined) return;
    for (const pid of pids) {
      const netns = this.netnsOf(pid);
      if (netns !== undefined && netns !== this.ownNetns && !known.has(netns)) known.set(netns, pid);
    }
  }

  /** One representative pid per network namespace other than ours; recomputed when one of them is gone. */
  private otherNamespaces(): Map<string, number> {
    const cached = this.namespaces;
    const deferred = this.details.deferred;
    if (cached !== undefined && [...cached.values()].every((pid) => this.processes.has(pid) || deferred.has(pid))) return cached;
    const namespaces = new Map<string, number>();
    this.addNamespaces(this.processes.keys(), namespaces);
    this.addNamespaces(deferred.keys(), namespaces);
    this.namespaces = namespaces;
    return namespaces;
  }

  async poll(): Promise<Snapshot> {
    const takenAt = new Date();
    const warnings: string[] = [];
    this.details.beginPoll();
    // The first scan's follow-up is done once no record is pending any more.
    if (this.details.pendingCount === 0) this.memory.settle();
    const { newPids, gone, deferred, changed } = this.list.refresh(warnings);
    if (newPids.length > 0) this.addNamespaces(newPids);
    if (deferred.length > 0) this.addNamespaces(deferred);

    const targets: [string, number | 'self'][] = [[this.ownNetns ?? 'host', 'self'], ...this.otherNamespaces()];
    const dumps: { netns: string; rows: NamespaceRows['rows'] }[] = [];
    for (const [netns, pid] of targets) {
      const r = await this.reader.read(pid, pid === 'self');
      warnings.push(...r.warnings);
      dumps.push({ netns, rows: r.rows });
    }
    // Steady state: no process came or went and the kernel lists the same sockets in the same
    // order, so owners cannot have changed either. Nothing else to do this tick.
    const sameSockets = this.sameInodes(dumps);
    if (!changed && sameSockets) {
      return { takenAt, listeners: this.lastRows, processes: this.processes, warnings, changed: { processes: false, listeners: false } };
    }
    // Processes came or went (a host with process churn, most ticks) but not listeners: unless one
    // of them holds or held a listening socket, the listener records stay the same objects.
    let newPidsScanned = false;
    if (sameSockets && this.listening.size > 0) {
      const newHolders = this.owners.scanNew(this.listening, newPids);
      newPidsScanned = true;
      if (!this.owners.affectedBy(newHolders, newPids, gone)) {
        return {
          takenAt, listeners: this.lastRows, processes: this.processes, warnings,
          changed: { processes: changed || this.details.rereadChanged, listeners: false },
        };
      }
    }
    // The loops live in small methods: V8 optimizes those quickly, where optimizing all of poll()
    // (on-stack, mid-loop) cost tens of ms of compiler time on a host with thousands of listeners.
    // Indexed loops, not for-of: the first scan runs without the optimizing compiler (v8-flags.ts),
    // where every for-of step over thousands of sockets allocates an iterator result.
    const rows = this.toRecords(dumps);
    const listening = new Map<number, number | undefined>();
    const inodes: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (r === undefined) continue;
      listening.set(r.inode, r.uid);
      inodes.push(r.inode);
    }
    this.lastInodes = inodes;
    // Processes deferred this poll (the first scan) are new to the owner search too; those holding
    // a listening socket are read now, with their ancestors, so that the documents carry lineage.
    const scanned = deferred.length === 0 ? newPids : [...newPids, ...deferred];
    if (!newPidsScanned) this.owners.scanNew(listening, scanned);
    let completed = false;
    const waiting = this.details.deferred;
    if (deferred.length > 0) {
      for (const pid of this.owners.holdersWhere((p) => waiting.has(p))) if (this.details.completeChain(pid)) completed = true;
    }
    const owners = this.owners.resolve(listening, this.processes, scanned, waiting);
    if (this.attachOwners(rows, owners, new Set(scanned))) completed = true;
    if (Math.abs(listening.size - this.listening.size) > this.details.fullReadsPerPoll) this.memory.burst(false);
    this.listening = listening;
    const listenersChanged = !sameListenerSet(rows, this.lastRows, this.lastOwnerStarts, this.startKeyOf);
    if (listenersChanged) {
      this.lastRows = rows;
      this.lastOwnerStarts = ownerStarts(rows, this.startKeyOf);
    }
    return {
      takenAt,
      listeners: this.lastRows,
      processes: this.processes,
      warnings,
      changed: { processes: changed || completed || this.details.rereadChanged, listeners: listenersChanged },
    };
  }

  /** Dumped rows -> listener records (owners attached later). */
  private toRecords(dumps: readonly { netns: string; rows: NamespaceRows['rows'] }[]): (ListenerRecord & { zone?: string })[] {
    const rows: (ListenerRecord & { zone?: string })[] = [];
    for (const { netns, rows: dumped } of dumps) {
      for (let i = 0; i < dumped.length; i++) {
        const row = dumped[i];
        if (row === undefined) continue;
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

  /** Sets each record's owners and completes their lineage; returns whether a record was completed. */
  private attachOwners(rows: (ListenerRecord & { zone?: string })[], owners: ReadonlyMap<number, number[]>, fresh: ReadonlySet<number>): boolean {
    let completed = false;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row === undefined) continue;
      row.owners = owners.get(row.inode) ?? [];
      if (!this.listening.has(row.inode)) this.refreshOwners(row.owners, fresh);
      // The listener's document carries its owner and ancestry: never from a light record.
      if (row.owners[0] !== undefined && this.details.completeChain(row.owners[0])) completed = true;
    }
    return completed;
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
    for (const pid of pids) if (!fresh.has(pid)) this.details.reread(pid);
  }
}

export function createLinuxSource(opts: LinuxSourceOptions): Source {
  return new LinuxSource(opts);
}
