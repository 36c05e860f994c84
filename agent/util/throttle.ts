/** How often a failure that repeats on every batch or tick may be logged: once per 30 s. */
export const WARN_INTERVAL_MS = 30_000;

/** What a line let through may say about the quiet spell before it. */
export interface Release {
  /** Calls held back since the previous line (or since the start). */
  suppressed: number;
  /** Milliseconds since the previous line let through; undefined for the first line. */
  sinceMs: number | undefined;
}

/**
 * One line per interval for a failure that repeats (a full disk fails every cursor save, every
 * write, every fsync tick), not one per attempt. The caller keeps its own count of failures, so
 * the line it lets through can say how many there were.
 */
export class Throttle {
  private last = -Infinity;
  private suppressed = 0;

  constructor(private readonly now: () => number, private readonly intervalMs = WARN_INTERVAL_MS) {}

  /** True at most once per interval (the first call always); a true answer starts the next interval. */
  ready(): boolean {
    return this.release() !== undefined;
  }

  /**
   * ready, saying what the line may report: undefined while the interval runs. `force` lets a line
   * through at once (the last one, at shutdown) and starts the next interval all the same.
   */
  release(force = false): Release | undefined {
    const t = this.now();
    if (!force && t - this.last < this.intervalMs) {
      this.suppressed++;
      return undefined;
    }
    const r: Release = { suppressed: this.suppressed, sinceMs: this.last === -Infinity ? undefined : t - this.last };
    this.last = t;
    this.suppressed = 0;
    return r;
  }
}
