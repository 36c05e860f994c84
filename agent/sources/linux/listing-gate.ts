/**
 * Whether a poll needs to list /proc. In the initial pid namespace (where every task on the host,
 * containers' included, has a pid), /proc/loadavg gives the number of tasks and the last pid handed
 * out; both move with every task created, and the count with every task reaped.
 *
 * - Both unchanged: the same processes with the same start times as at the last listing (a reused
 *   pid needs a new task), so neither the listing nor the PID-reuse check is needed; only the pids
 *   that had no task yet last time are read again (below).
 * - Changed, but few pids handed out: those pids are probed one by one. The tasks alive among them
 *   and the count tell how many tasks that were there before have ended: when none has, the new
 *   processes among the probed pids are all that changed. This is the common case on a host with
 *   process churn: short-lived processes (health checks, cron jobs, scripts) come and go between
 *   two polls, and a cold listing of 1,000 entries costs about 2 ms where a probe of a few pids
 *   costs tens of microseconds. When some have ended, the 32 most recently started processes are
 *   checked (the likeliest to end: a job that ran a second or two); if exactly that many of them
 *   have ended, the probe still tells it all.
 * - Otherwise (an older task ended, a thread pool shrank, a fork storm, a pid wrap): list /proc.
 *
 * The counters are read before and after each listing or probe; a listing that tasks came or went
 * during is not exact, so the next poll lists again rather than counting on it. The kernel hands a
 * pid out (the last pid moves) a moment before the task is counted and visible in /proc, so the
 * newest pids that had no task at a listing or probe are probed once more by the next one. A read
 * that fails for another reason than "no such task" lists. /proc is still listed at least every
 * LIST_AT_LEAST_EVERY polls (pids handed out of turn, e.g. by checkpoint/restore, wait for that).
 *
 * The last pid also bounds the PID-reuse check after a listing: pids are handed out in turn,
 * wrapping at pid_max, so a pid that was live at the previous listing and is live again now can
 * belong to a new process only if it was handed out in between, i.e. lies in
 * (last pid then, last pid now].
 */
import { readlinkSync } from 'node:fs';
import { readTaskCounters, readThreadGroup } from './process-reader.js';

/** The initial pid namespace (PROC_PID_INIT_INO). */
const INIT_PID_NS = 'pid:[4026531836]';
/** /proc is listed at least every this many polls, even with unchanged task counters. */
const LIST_AT_LEAST_EVERY = 30;
/** Most pids probed instead of a listing (each costs an open and a read of its status). */
export const PROBE_AT_MOST = 32;
/** Most recently started processes checked for an end instead of a listing (an open and a read each). */
export const RECENT_AT_MOST = 32;
/** The newest pids without a task at a listing or probe that the next probe reads again. */
const UNSETTLED_AT_MOST = 32;

/** The pids handed out between two listings: (after, upTo], wrapping at pid_max. */
export class PidRange {
  constructor(readonly after: number, readonly upTo: number) {}

  has(pid: number): boolean {
    return this.after <= this.upTo ? pid > this.after && pid <= this.upTo : pid > this.after || pid <= this.upTo;
  }
}

/**
 * What a poll does about the process list: nothing (`same`); drop the processes in `ended`, read
 * the pids in `candidates`, which may be new processes, and know that no other process ended
 * (`probed`); or list /proc (`list`), then check the existing pids in `handedOut` for reuse.
 */
export type ListingPlan =
  | { kind: 'same' }
  | { kind: 'probed'; candidates: number[]; ended: number[] }
  | { kind: 'list'; handedOut: PidRange | undefined };

/** A task's thread group id (its process's pid); `gone` when no task has this pid; undefined when unreadable. */
export type ThreadGroupOf = (pid: number) => number | 'gone' | undefined;

/** Processes the caller started tracking lately, newest first, and whether one of them has ended. */
export interface RecentProcesses {
  pids: readonly number[];
  /**
   * True when the process tracked under `pid` is gone (or its pid names another process now); false
   * for a pid not tracked (any more), so that an end is counted once; undefined when unreadable.
   */
  ended: (pid: number) => boolean | undefined;
}

interface Counters {
  text: string;
  tasks: number;
  lastPid: number;
}

export class ListingGate {
  private last: Counters | undefined;
  /** Whether the processes known match `last` exactly (no task came or went while reading them). */
  private exact = false;
  private unlisted = 0;
  /** Pids handed out by `last` that had no task yet: the next probe reads them again. */
  private unsettled: number[] = [];

  /**
   * `counters` replaces /proc/loadavg and `threadGroupOf` the probe of /proc/<pid>/status (tests);
   * undefined: /proc/loadavg in the initial pid namespace only.
   */
  constructor(
    procRoot: string,
    private counters?: () => string | undefined,
    private readonly threadGroupOf: ThreadGroupOf = (pid) => readThreadGroup(pid, procRoot),
  ) {
    if (counters === undefined && seesInitPidNs(procRoot)) this.counters = () => readTaskCounters(procRoot);
  }

  /** Whether the gate can skip listings at all (else /proc is listed every poll). */
  get active(): boolean {
    return this.counters !== undefined;
  }

  /**
   * What this poll does; `busy` (records still to complete) always lists. `recent`: the processes
   * to check for an end before listing because of one. Call listed() after a listing.
   */
  plan(busy: boolean, recent?: RecentProcesses): ListingPlan {
    // Read before the listing: a task created after this read changes the next poll's counters.
    const now = this.read();
    const last = this.last;
    if (now === undefined || last === undefined || busy || this.unlisted + 1 >= LIST_AT_LEAST_EVERY) return this.list(now);
    // Unchanged counters, unless a pid that had no task last time has one now while another task
    // ended: the probe below reads those pids again.
    if (now.text === last.text && this.unsettled.length === 0) {
      this.unlisted++;
      return { kind: 'same' };
    }
    const probed = this.exact ? this.probe(last, now, recent) : undefined;
    if (probed === undefined) return this.list(now);
    this.last = now;
    this.unlisted++;
    return { kind: 'probed', ...probed };
  }

  /**
   * After a `list` plan's listing (`pids`: the processes listed): whether it is exact (no task came
   * or went meanwhile), and which of the newest pids handed out had no task yet.
   */
  listed(pids: readonly number[]): void {
    const last = this.last;
    this.exact = false;
    this.unsettled = [];
    if (last === undefined || this.read()?.text !== last.text || last.lastPid < 0) return;
    const newest = new Set<number>();
    for (let pid = last.lastPid; pid > 0 && pid > last.lastPid - UNSETTLED_AT_MOST; pid--) newest.add(pid);
    for (const pid of pids) newest.delete(pid);
    // Not listed: a thread (listings show processes only), or no task yet.
    for (const pid of newest) {
      const group = this.threadGroupOf(pid);
      if (group === undefined) return;
      if (group === 'gone') this.unsettled.push(pid);
    }
    this.exact = true;
  }

  private list(now: Counters | undefined): ListingPlan {
    const before = this.last;
    this.last = now;
    this.exact = false;
    this.unsettled = [];
    this.unlisted = 0;
    const handedOut = before === undefined || now === undefined || before.lastPid < 0 || now.lastPid < 0
      ? undefined
      : new PidRange(before.lastPid, now.lastPid);
    return { kind: 'list', handedOut };
  }

  /**
   * The new processes among the pids handed out since `last`, and the recent processes that ended,
   * when together they account for the change of the task count (no other task ended); else
   * undefined.
   */
  private probe(last: Counters, now: Counters, recent: RecentProcesses | undefined): { candidates: number[]; ended: number[] } | undefined {
    const handed = now.lastPid - last.lastPid;
    // Unparsable counters (-1), a wrap at pid_max, or more pids than a listing would cost.
    if (last.lastPid < 0 || now.lastPid < 0 || handed < 0 || handed > PROBE_AT_MOST) return undefined;
    const probed = this.unsettled.filter((pid) => pid <= last.lastPid);
    for (let pid = last.lastPid + 1; pid <= now.lastPid; pid++) probed.push(pid);
    // Tasks alive now that were not counted at `last`: on the pids handed out since, or on the
    // ones handed out before that had no task yet then.
    let alive = 0;
    const candidates: number[] = [];
    const unsettled: number[] = [];
    for (const pid of probed) {
      const group = this.threadGroupOf(pid);
      if (group === undefined) return undefined;
      if (group === 'gone') {
        if (pid > last.lastPid && pid > now.lastPid - UNSETTLED_AT_MOST) unsettled.push(pid);
        continue;
      }
      alive++;
      if (group === pid) candidates.push(pid);
    }
    // Tasks that were there at the last count and are not now. Each recent process that ended is
    // one of them (its threads, if it had any, are not counted: the sum then falls short).
    const endedTasks = last.tasks + alive - now.tasks;
    const ended: number[] = [];
    if (endedTasks > 0 && recent !== undefined) {
      const n = Math.min(recent.pids.length, RECENT_AT_MOST);
      for (let i = 0; i < n && ended.length < endedTasks; i++) {
        const pid = recent.pids[i] ?? 0;
        const end = recent.ended(pid);
        if (end === undefined) return undefined;
        if (end) ended.push(pid);
      }
    }
    // The probe is exact only if no task came or went while it ran.
    if (ended.length !== endedTasks || this.read()?.text !== now.text) return undefined;
    this.unsettled = unsettled;
    return { candidates, ended };
  }

  private read(): Counters | undefined {
    const text = this.counters?.();
    if (text === undefined) return undefined;
    const m = /^(\d+) (\d+)$/.exec(text);
    return { text, tasks: m === null ? -1 : Number(m[1]), lastPid: m === null ? -1 : Number(m[2]) };
  }
}

/** Whether the agent runs in the initial pid namespace, where kernel pids are the ones /proc shows. */
export function seesInitPidNs(procRoot: string): boolean {
  try {
    return readlinkSync(`${procRoot}/self/ns/pid`) === INIT_PID_NS;
  } catch {
    return false;
  }
}
