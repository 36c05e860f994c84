/**
 * The Linux source's process table, brought up to date each poll: which processes ended and which
 * are new (a /proc listing, or a probe when /proc/loadavg accounts for the change:
 * listing-gate.ts), new ones read in full or, many at once, light (on the first poll: not at all
 * yet); reused pids; parents that may have exec'd; records completed over the polls
 * (process-details.ts).
 */
import type { ProcessRecord } from '../types.js';
import { ListingGate, RECENT_AT_MOST } from './listing-gate.js';
import type { ListingPlan, PidRange } from './listing-gate.js';
import type { MemoryHousekeeping } from '../housekeeping.js';
import { ProcessDetails } from './process-details.js';
import { hasEnded, listPids, readLight, readListed } from './process-reader.js';
import type { ProcessReadContext, ReadDepth } from './process-reader.js';
import type { SockDiag } from './sock-diag.js';

export class ProcessList {
  readonly processes = new Map<number, ProcessRecord>();
  readonly details: ProcessDetails;
  private listing: ListingGate | undefined;
  /** The processes seen last, newest first (listing-gate.ts checks them for an end before listing). */
  private recent: number[] = [];
  private readonly procRoot: string;
  private listedOnce = false;

  constructor(
    private readonly ctx: ProcessReadContext,
    private readonly diag: SockDiag | undefined,
    private readonly memory: MemoryHousekeeping,
    fullReadsPerPoll: number,
    private readonly taskCounters?: () => string | undefined,
  ) {
    this.procRoot = ctx.procRoot;
    this.details = new ProcessDetails(this.processes, ctx, fullReadsPerPoll);
  }

  start(): void {
    this.listing = new ListingGate(this.procRoot, this.taskCounters);
  }

  /** Whether /proc is listed only when /proc/loadavg's counters call for it (else every poll). */
  get gated(): boolean {
    return this.listing?.active === true;
  }

  /**
   * Updates the process table in place; returns the new pids (newest first), the pids that exited,
   * the pids listed but deferred (the first poll of a busy host: read later, process-details.ts)
   * and whether anything changed.
   */
  refresh(warnings: string[]): { newPids: number[]; gone: number[]; deferred: number[]; changed: boolean } {
    // Whether /proc must be listed, or a probe of the pids handed out since tells it all (listing-gate.ts).
    const recent = { pids: this.recent, ended: this.trackedEnded };
    const plan: ListingPlan = this.listing?.plan(this.details.pendingCount > 0, recent) ?? { kind: 'list', handedOut: undefined };
    const deferred: number[] = [];
    if (plan.kind === 'same') return { newPids: [], gone: [], deferred, changed: false };
    const procs = this.processes;
    const gone: number[] = [];
    const newPids: number[] = [];
    let depth: ReadDepth;
    if (plan.kind === 'probed') {
      // No process ended but `ended`; the candidates not known yet are the new ones (a known one
      // can only have been reused).
      for (const pid of plan.ended) this.drop(pid, gone);
      const known = plan.candidates.filter((pid) => procs.has(pid));
      depth = this.addNew(plan.candidates.filter((pid) => !procs.has(pid)), newPids);
      this.details.recheckStart(known, newPids);
    } else {
      depth = this.applyListing(plan.handedOut, gone, newPids, deferred);
    }
    let changed = gone.length > 0 || newPids.length > 0;
    if (procs.size === 0 && deferred.length === 0) warnings.push(`no process readable under ${this.procRoot}`);
    // A parent that forks a new child may have exec'd since we read it (`ip netns exec`, shells).
    const fresh = new Set(newPids);
    for (const ppid of new Set(newPids.map((p) => procs.get(p)?.ppid ?? 0))) {
      if (ppid > 0 && !fresh.has(ppid) && this.details.reread(ppid)) changed = true;
    }
    // A new process's event and its parent-child detection need its parents' details.
    for (const pid of newPids) {
      if (procs.get(pid)?.detailsPending !== true) this.details.completeChain(procs.get(pid)?.ppid ?? 0);
    }
    if (depth === 'full' && this.details.drainPending()) changed = true;
    // Deferred pids that named another process when read are new processes like the others.
    for (const pid of this.details.takeReused()) if (!newPids.includes(pid)) newPids.push(pid);
    // Newest first: a fresh listener most likely belongs to a fresh process.
    const startOf = new Map(newPids.map((pid) => [pid, Number(procs.get(pid)?.startKey ?? 0)]));
    newPids.sort((a, b) => (startOf.get(b) ?? 0) - (startOf.get(a) ?? 0));
    if (newPids.length > 0) this.recent = [...newPids.slice(0, RECENT_AT_MOST), ...this.recent.filter((pid) => !startOf.has(pid))].slice(0, RECENT_AT_MOST);
    return { newPids, gone, deferred, changed };
  }

  /** Whether the process tracked under `pid` has ended (or its pid names another process now). */
  private readonly trackedEnded = (pid: number): boolean | undefined => {
    const rec = this.processes.get(pid);
    return rec === undefined ? false : hasEnded(pid, rec.startKey, this.procRoot);
  };

  private drop(pid: number, gone: number[]): void {
    this.processes.delete(pid);
    this.details.forget(pid);
    gone.push(pid);
  }

  /**
   * Lists /proc: drops the pids that ended (into `gone`; a deferred one is forgotten silently),
   * adds the new ones (into `found`, or `deferred` on a busy host's first listing), checks reuse.
   */
  private applyListing(handedOut: PidRange | undefined, gone: number[], found: number[], deferred: number[]): ReadDepth {
    const pids = listPids(this.procRoot);
    this.listing?.listed(pids);
    const procs = this.processes;
    const waiting = this.details.deferred;
    const alive = new Set(pids);
    for (const pid of procs.keys()) if (!alive.has(pid)) this.drop(pid, gone);
    for (const pid of waiting.keys()) if (!alive.has(pid)) this.details.forget(pid);
    const existing: number[] = [];
    const unseen: number[] = [];
    for (let i = 0; i < pids.length; i++) {
      const pid = pids[i] ?? 0;
      // A deferred pid is checked for reuse too: a new process on it is read as new.
      if (procs.has(pid) || waiting.has(pid)) existing.push(pid);
      else unseen.push(pid);
    }
    const first = !this.listedOnce;
    this.listedOnce = true;
    if (first && unseen.length > this.details.fullReadsPerPoll) return this.deferAll(unseen, deferred);
    const depth = this.addNew(unseen, found);
    this.details.checkReuse(existing, found, handedOut);
    return depth;
  }

  /**
   * The first poll of a busy host reads of each process only its parent, start and network namespace
   * (namespaces are discovered at once) and puts none into the table yet: the owners of listeners
   * and their ancestors are read in full in this poll (by the source), the rest over the next polls
   * (process-details.ts). Appends the pids to `deferred`.
   */
  private deferAll(unseen: readonly number[], deferred: number[]): ReadDepth {
    this.memory.burst(true);
    const listed = readListed(unseen, this.procRoot, this.diag);
    this.details.defer(listed);
    for (let i = 0; i < listed.length; i++) deferred.push(listed[i]?.pid ?? 0);
    return 'light';
  }

  /**
   * Reads processes not seen before into the table and appends them to `found`: in full, or all
   * light when there are more than a poll's budget of full reads (a fork storm).
   */
  private addNew(unseen: readonly number[], found: number[]): ReadDepth {
    if (unseen.length <= this.details.fullReadsPerPoll) {
      this.details.readNew(unseen, found);
      return 'full';
    }
    this.memory.burst(true);
    const light = readLight(unseen, this.ctx, this.diag);
    for (let i = 0; i < light.length; i++) {
      const rec = light[i];
      if (rec === undefined) continue;
      this.processes.set(rec.pid, rec);
      found.push(rec.pid);
      this.details.markPending(rec.pid);
    }
    return 'light';
  }
}
