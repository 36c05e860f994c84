/** How often a failure that repeats on every batch or tick may be logged: once per 30 s. */
export const WARN_INTERVAL_MS = 30_000;

/**
 * One line per interval for a failure that repeats (a full disk fails every cursor save, every
 * write, every fsync tick), not one per attempt. The caller keeps its own count of failures, so
 * the line it lets through can say how many there were.
 */
export class Throttle {
  private last = -Infinity;

  constructor(private readonly now: () => number, private readonly intervalMs = WARN_INTERVAL_MS) {}

  /** True at most once per interval (the first call always); a true answer starts the next interval. */
  ready(): boolean {
    const t = this.now();
    if (t - this.last < this.intervalMs) return false;
    this.last = t;
    return true;
  }
}
