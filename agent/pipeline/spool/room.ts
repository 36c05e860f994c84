import type { Lane } from '../lane.js';

/**
 * After release(): how far over its cap the spool takes what the stopping agent still hands over
 * (a quarter of the cap, at most 16 MiB); alerts and the agent's own reports twice as far.
 */
const MAX_OVERSHOOT_BYTES = 16 * 1024 * 1024;

export type RefusalReason = 'queue_full' | 'too_large' | 'spool_unwritable' | 'shutdown';

/**
 * The spool at its cap: appends waiting for room, the stop's release of them, and the count of
 * events refused, by reason.
 */
export class Room {
  private waiters: (() => void)[] = [];
  private released = false;
  /** Events refused (drop_newest, too large, shutdown ...), by reason; each counts as received and dropped for every output. */
  readonly refused: Record<string, number> = {};

  constructor(private readonly lanes: () => readonly Lane[]) {}

  /** Counts an event that will not be stored as received and dropped for every output. */
  refuse(reason: RefusalReason): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
    for (const lane of this.lanes()) {
      lane.received++;
      lane.count('dropped', reason);
    }
  }

  /** Resolves at the next wake(); at the latest after `ms`, if given. */
  wait(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      if (ms !== undefined) setTimeout(resolve, ms).unref();
    });
  }

  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Stopping: appends stop waiting for room. What the agent already saw may take the spool a
   * quarter over its cap, at most 16 MiB (it is delivered after the next start), alerts and the
   * agent's reports (the drop summary, the stopped event) twice that; beyond, it is refused
   * (`shutdown`). Waiters are woken. True if an append was waiting.
   */
  release(): boolean {
    this.released = true;
    const waiting = this.waiters.length > 0;
    this.wake();
    return waiting;
  }

  /** After release(): 'take' (within the overshoot) or 'refuse'; undefined before. */
  whenReleased(usedBytes: number, size: number, maxBytes: number, keep: boolean): 'take' | 'refuse' | undefined {
    if (!this.released) return undefined;
    const over = Math.min(Math.floor(maxBytes / 4), MAX_OVERSHOOT_BYTES) * (keep ? 2 : 1);
    return usedBytes + size <= maxBytes + over ? 'take' : 'refuse';
  }
}
