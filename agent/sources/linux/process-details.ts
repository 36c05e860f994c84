/**
 * Full reads of the Linux collector's process records: new and reused pids, re-reads of processes
 * that may have exec'd, and the completion of records read light (a fork storm) or not read at
 * all yet (the first poll: `deferred`): listener owners and new processes' ancestors at once, the
 * rest within a budget per poll.
 */
import type { ProcessRecord } from '../types.js';
import type { PidRange } from './listing-gate.js';
import { readProcess, readStartKey } from './process-reader.js';
import type { ListedProcess, ProcessReadContext } from './process-reader.js';

/** Existing pids re-checked per tick for PID reuse when the pids handed out are not known. */
const REUSE_CHECKS_PER_TICK = 16;

export class ProcessDetails {
  /** Pids whose records are still `detailsPending`, in the order they were seen. */
  private readonly pending = new Set<number>();
  /**
   * Processes listed on the first poll whose records are not read yet, with their parent, start
   * and network namespace then, in pid order; kept out of the table (and out of the watch) until
   * read. A record read later is `existing` when it has the listed start (else the pid was reused
   * since), and keeps the listed parent (else the process was reparented since).
   */
  private readonly deferredPids = new Map<number, ListedProcess>();
  /** Deferred pids read since takeReused() that named another process than the one listed. */
  private reused: number[] = [];
  private fullReads = 0;
  private changed = false;
  private reuseCursor = 0;

  /** `processes` is the source's table, updated in place; `fullReadsPerPoll` is at least 1. */
  constructor(
    private readonly processes: Map<number, ProcessRecord>,
    private readonly ctx: ProcessReadContext,
    readonly fullReadsPerPoll: number,
  ) {}

  /** Processes whose details are still to be read (deferred ones included); 0 in steady state. */
  get pendingCount(): number {
    return this.pending.size + this.deferredPids.size;
  }

  /** Listed processes not read yet, by pid. */
  get deferred(): ReadonlyMap<number, ListedProcess> {
    return this.deferredPids;
  }

  /**
   * Listed processes whose records are read later: listener owners and their ancestors when a
   * listener needs them, the rest within the budget of the coming polls.
   */
  defer(listed: readonly ListedProcess[]): void {
    for (let i = 0; i < listed.length; i++) {
      const p = listed[i];
      if (p !== undefined) this.deferredPids.set(p.pid, p);
    }
  }

  /** Whether a re-read replaced or completed a record since beginPoll(). */
  get rereadChanged(): boolean {
    return this.changed;
  }

  /** Starts a poll: a fresh budget of full reads, no re-read change yet. */
  beginPoll(): void {
    this.changed = false;
    this.fullReads = 0;
  }

  /** A light record was stored for `pid`: its details are to be read. */
  markPending(pid: number): void {
    this.pending.add(pid);
  }

  /** Deferred pids whose read found another process than the one listed (a new process): handed out once. */
  takeReused(): number[] {
    const pids = this.reused;
    this.reused = [];
    return pids;
  }

  /** `pid` exited. */
  forget(pid: number): void {
    this.pending.delete(pid);
    this.deferredPids.delete(pid);
  }

  /** Reads a deferred process into the table; false when it is gone (then it is forgotten). */
  private readDeferred(pid: number): boolean {
    const listed = this.deferredPids.get(pid);
    const rec = this.readFull(pid);
    if (rec === undefined) return false;
    if (listed !== undefined && rec.startKey === listed.startKey) {
      // The process listed when the agent started; its parent then, though it may have exited
      // since and left the process to a reaper.
      rec.existing = true;
      rec.ppid = listed.ppid;
    } else {
      this.reused.push(pid);
    }
    this.processes.set(pid, rec);
    return true;
  }

  /** Reads a process in full (no longer pending), counting this poll's full reads. */
  private readFull(pid: number): ProcessRecord | undefined {
    this.fullReads++;
    this.pending.delete(pid);
    this.deferredPids.delete(pid);
    return readProcess(pid, this.ctx, 'full');
  }

  /** Reads new processes in full into the table; appends the readable ones to `found`. */
  readNew(pids: readonly number[], found: number[]): void {
    for (const pid of pids) {
      const rec = this.readFull(pid);
      if (rec !== undefined) {
        this.processes.set(pid, rec);
        found.push(pid);
      }
    }
  }

  /**
   * A pid that exited and came back between two ticks is a new process: re-reads the start time of
   * the `existing` pids that were handed out again (`handedOut`, listing-gate.ts), or else of a
   * rotating slice of them each tick; reads the reused ones in full and appends them to `found`.
   */
  checkReuse(existing: readonly number[], found: number[], handedOut?: PidRange): void {
    if (handedOut !== undefined) {
      for (const pid of existing) if (handedOut.has(pid)) this.checkStart(pid, found);
      return;
    }
    const n = Math.min(REUSE_CHECKS_PER_TICK, existing.length);
    for (let i = 0; i < n; i++) {
      this.checkStart(existing[(this.reuseCursor + i) % existing.length] ?? 0, found);
    }
    this.reuseCursor = existing.length === 0 ? 0 : (this.reuseCursor + n) % existing.length;
  }

  /** Re-reads the start time of known pids; reads the reused ones in full and appends them to `found`. */
  recheckStart(pids: readonly number[], found: number[]): void {
    for (const pid of pids) this.checkStart(pid, found);
  }

  /** A known or deferred pid now naming another process is read in full as a new one. */
  private checkStart(pid: number, found: number[]): void {
    const key = readStartKey(pid, this.ctx.procRoot);
    if (key !== undefined && key !== (this.processes.get(pid) ?? this.deferredPids.get(pid))?.startKey) this.readNew([pid], found);
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

  /** Completes a process and its ancestors (a listener's owner, a new process's parents), reading deferred ones. */
  completeChain(pid: number): boolean {
    // Steady state: nothing is pending, so no chain needs walking.
    if (this.pendingCount === 0) return false;
    let changed = false;
    for (let cur = pid, depth = 0; cur > 0 && depth < 64; depth++) {
      if (this.deferredPids.has(cur)) {
        if (!this.readDeferred(cur)) break;
        changed = true;
      }
      const rec = this.processes.get(cur);
      if (rec === undefined) break;
      if (rec.detailsPending === true && this.complete(cur)) changed = true;
      if (rec.ppid === cur) break;
      cur = rec.ppid;
    }
    return changed;
  }

  /**
   * Completes pending records, then reads deferred processes with their deferred ancestors (a
   * child's record never comes before its parent's), up to this poll's remaining budget.
   */
  drainPending(): boolean {
    let changed = false;
    for (const pid of this.pending) {
      if (this.fullReads >= this.fullReadsPerPoll) break;
      if (!this.processes.has(pid)) {
        this.pending.delete(pid);
        continue;
      }
      if (this.complete(pid)) changed = true;
    }
    for (const pid of this.deferredPids.keys()) {
      if (this.fullReads >= this.fullReadsPerPoll) break;
      if (this.completeChain(pid)) changed = true;
    }
    return changed;
  }

  /** Re-reads a known process; keeps the new record when the same process exec'd a new image. */
  reread(pid: number): boolean {
    if (this.deferredPids.has(pid)) {
      // With its deferred ancestors: a node's parent is fixed when it enters the table.
      const read = this.completeChain(pid);
      if (read) this.changed = true;
      return read;
    }
    if (this.pending.has(pid)) {
      const completed = this.complete(pid);
      if (completed) this.changed = true;
      return completed;
    }
    const prev = this.processes.get(pid);
    const rec = this.readFull(pid);
    if (prev !== undefined && rec !== undefined && rec.startKey === prev.startKey
      && (rec.executable !== prev.executable || rec.commandLine !== prev.commandLine || rec.name !== prev.name)) {
      this.processes.set(pid, rec);
      this.changed = true;
      return true;
    }
    return false;
  }
}
