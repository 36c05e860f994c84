import type { CursorPos, CursorStore } from './cursor-store.js';
import type { OutputStats } from './types.js';

export type LaneState = OutputStats['state'];

/**
 * One output's view of the spool and its counters. `readPos` is the next frame to read into a
 * batch; `ackPos` is where everything before is resolved (sent, dead-lettered or dropped) and is
 * what gets persisted. Invariant: received = sent + deadLettered + sum(dropped) + queuedEvents.
 */
export class Lane {
  readPos: CursorPos = { seq: 1, segment: 1, offset: 0 };
  ackPos: CursorPos = { seq: 1, segment: 1, offset: 0 };
  /** Bumped whenever something other than the dispatcher moves readPos (eviction). */
  generation = 0;
  inFlight = false;
  state: LaneState = 'running';
  received = 0;
  sent = 0;
  deadLettered = 0;
  retries = 0;
  failed: Record<string, number> = {};
  dropped: Record<string, number> = {};
  queuedEvents = 0;
  queuedBytes = 0;
  /** When the output last acknowledged a send (epoch ms). */
  lastDeliveryAt: number | undefined;
  /** Append time of the oldest frame not yet resolved, while there is one in a batch. */
  oldestTime: number | undefined;
  /** Resolves the dispatcher's wait for new frames. */
  private waiter: (() => void) | undefined;
  private notified = 0;

  constructor(
    readonly name: string,
    /** Changes only when a reload gives the output's name to another type. */
    public type: string,
    readonly cursor: CursorStore,
  ) {}

  count(bag: 'failed' | 'dropped', reason: string, n = 1): void {
    this[bag][reason] = (this[bag][reason] ?? 0) + n;
  }

  /** Bumped by every notify(): pass it to waitForNotify() to catch one that came in between. */
  get notifications(): number { return this.notified; }

  /** Something happened that the dispatcher may want to see (new frames, shutdown). */
  notify(): void {
    this.notified++;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * Resolves at the next notify() or after `ms`; at once if a notify() came since `seen` (a
   * `notifications` value read before the dispatcher's last read of the spool).
   */
  waitForNotify(ms: number, seen?: number): Promise<void> {
    if (seen !== undefined && seen !== this.notified) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      // One dispatcher per lane: a previous waiter can only be stale; release it.
      const prev = this.waiter;
      this.waiter = done;
      prev?.();
    });
  }

  stats(now: number): OutputStats {
    return {
      name: this.name,
      type: this.type,
      state: this.state,
      received: this.received,
      sent: this.sent,
      failed: { ...this.failed },
      dropped: { ...this.dropped },
      deadLettered: this.deadLettered,
      retries: this.retries,
      queuedEvents: this.queuedEvents,
      queuedBytes: this.queuedBytes,
      oldestQueuedAgeMs: this.oldestTime === undefined || this.queuedEvents === 0 ? 0 : Math.max(0, now - this.oldestTime),
      ...(this.lastDeliveryAt === undefined ? {} : { lastDelivery: new Date(this.lastDeliveryAt).toISOString() }),
    };
  }
}
