/** Retry timing of one output: exponential backoff with full jitter, and a circuit breaker. */
export class Backoff {
  private attempt = 0;
  private failures = 0;

  constructor(
    private readonly cfg: { initial: number; max: number; breaker_threshold: number },
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next try after a failure: uniform in [0, min(max, initial * 2^n)]. */
  next(retryAfterMs?: number): number {
    const ceiling = Math.min(this.cfg.max, this.cfg.initial * 2 ** Math.min(this.attempt, 40));
    this.attempt++;
    this.failures++;
    const jittered = Math.floor(this.random() * ceiling);
    // The server knows best when it will take more; honour it even past our ceiling.
    return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs);
  }

  /** Open after `breaker_threshold` consecutive failures: send one-event probes until one succeeds. */
  get open(): boolean {
    return this.failures >= this.cfg.breaker_threshold;
  }

  succeed(): void {
    this.attempt = 0;
    this.failures = 0;
  }
}
