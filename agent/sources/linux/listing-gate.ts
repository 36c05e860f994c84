/**
 * Whether a poll needs to list /proc. In the initial pid namespace (where every task on the host,
 * containers' included, has a pid), /proc/loadavg's task count and last pid change with every task
 * created or reaped. While both are unchanged the set of processes and their start times are the
 * same (a reused pid needs a new task), so neither the listing (1,000 entries: 2 ms of CPU) nor the
 * PID-reuse check is needed. /proc is still listed at least every LIST_AT_LEAST_EVERY polls.
 */
import { readlinkSync } from 'node:fs';
import { readTaskCounters } from './process-reader.js';

/** The initial pid namespace (PROC_PID_INIT_INO). */
const INIT_PID_NS = 'pid:[4026531836]';
/** /proc is listed at least every this many polls, even with unchanged task counters. */
const LIST_AT_LEAST_EVERY = 30;

export class ListingGate {
  private last: string | undefined;
  private unlisted = 0;

  /** `counters` replaces /proc/loadavg (tests); undefined: /proc/loadavg in the initial pid namespace only. */
  constructor(procRoot: string, private counters?: () => string | undefined) {
    if (counters === undefined && seesInitPidNs(procRoot)) this.counters = () => readTaskCounters(procRoot);
  }

  /** Whether the gate can skip listings at all (else /proc is listed every poll). */
  get active(): boolean {
    return this.counters !== undefined;
  }

  /** Whether this poll must list /proc; `busy` (records still to complete) always lists. */
  mustList(busy: boolean): boolean {
    // Read before the listing: a task created after this read changes the next poll's counters.
    const now = this.counters?.();
    if (now !== undefined && now === this.last && !busy && ++this.unlisted < LIST_AT_LEAST_EVERY) return false;
    this.last = now;
    this.unlisted = 0;
    return true;
  }
}

function seesInitPidNs(procRoot: string): boolean {
  try {
    return readlinkSync(`${procRoot}/self/ns/pid`) === INIT_PID_NS;
  } catch {
    return false;
  }
}
