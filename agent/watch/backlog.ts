import type { RealtimeEvent } from '../sources/types.js';

/** Real-time events waiting for the watcher's lane at most; see Backlog. */
export const MAX_BACKLOG = 16_384;

/**
 * The real-time events waiting for the watcher's lane. When the lane is behind (a full spool under
 * `when_full: block`, its outputs slow or down), events past MAX_BACKLOG are dropped here as a full
 * ring buffer drops them in the kernel, and counted: the watcher reports them in-band with the
 * kernel's losses and a poll reconciles. Memory stays bounded however long the outputs stay down.
 */
export class Backlog {
  private events: RealtimeEvent[] = [];
  /** Dropped since the last take() (the backlog was full). */
  private behind = 0;
  /** Stopping with the spool released (abandon()): what is taken from now on is dropped. */
  private abandoned = false;
  private abandonedCount = 0;

  /**
   * Adds what fits; true if the backlog was empty and now is not (the caller schedules a take).
   * The kernel's own loss reports always count: past the cap a loss of N adds N to what was
   * dropped, and a producer's stop notice (a loss of 0) is kept whatever the backlog holds.
   */
  add(events: readonly RealtimeEvent[]): boolean {
    const first = this.events.length === 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as RealtimeEvent;
      if (this.events.length < MAX_BACKLOG || (e.kind === 'lost' && e.count === 0)) this.events.push(e);
      else this.behind += e.kind === 'lost' ? e.count : 1;
    }
    return first && this.events.length > 0;
  }

  /** Everything waiting, and how many were dropped since the last take; nothing once abandoned. */
  take(): { events: RealtimeEvent[]; behind: number } {
    const events = this.events;
    this.events = [];
    if (this.abandoned) {
      this.abandonedCount += events.length;
      return { events: [], behind: 0 };
    }
    const behind = this.behind;
    this.behind = 0;
    return { events, behind };
  }

  abandon(): void {
    this.abandoned = true;
  }

  /** At the end of a stop: events never applied (abandoned, still waiting, or dropped and not yet reported). */
  unapplied(): number {
    return this.abandonedCount + this.events.length + this.behind;
  }
}
