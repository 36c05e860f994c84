import type { SendResult } from '../types.js';

/**
 * How many leading items fit in `cap` bytes: the longest prefix whose sizes sum to at most `cap`,
 * and at least one item (an item alone over the cap is still sent alone; the caller decides
 * whether it is oversize).
 */
export function prefixWithin(sizes: readonly number[], cap: number): number {
  let total = 0;
  for (const [i, size] of sizes.entries()) {
    total += size;
    if (total > cap) return Math.max(1, i);
  }
  return sizes.length;
}

/**
 * Collects the results of the requests one batch was split into (each covering `count` events
 * from `offset`) into one SendResult for the batch. Events of a chunk count as delivered only
 * when its result says so; whatever was not sent goes around again.
 */
export class BatchOutcome {
  private readonly retry: number[] = [];
  private readonly rejected: { index: number; reason: string }[] = [];
  private touched = false;

  constructor(private readonly total: number) {}

  /** Records one chunk's result. Returns false when the rest of the batch must not be sent now. */
  add(r: SendResult, offset: number, count: number): boolean {
    switch (r.kind) {
      case 'ok':
        this.touched = true;
        return true;
      case 'partial':
        this.touched = true;
        this.retry.push(...r.retry.map((i) => i + offset));
        this.rejected.push(...r.rejected.map((x) => ({ index: x.index + offset, reason: x.reason })));
        return true;
      case 'permanent':
        this.touched = true;
        for (let i = offset; i < offset + count; i++) this.rejected.push({ index: i, reason: r.reason });
        return true;
      case 'retryable':
      case 'paused':
        return false;
    }
  }

  /**
   * The batch's result. `stoppedAt`/`stop`: the chunk result that ended the loop early (from that
   * offset on nothing is delivered). A stop before any chunk resolved is returned as is, so a
   * whole-batch retry keeps its Retry-After and a pause stays a pause.
   */
  result(stop?: { at: number; result: SendResult }): SendResult {
    if (stop !== undefined) {
      if (!this.touched) return stop.result;
      for (let i = stop.at; i < this.total; i++) this.retry.push(i);
    }
    if (this.retry.length === 0 && this.rejected.length === 0) return { kind: 'ok' };
    if (this.retry.length === 0 && this.rejected.length === this.total) {
      const first = this.rejected[0]?.reason ?? '';
      if (this.rejected.every((x) => x.reason === first)) return { kind: 'permanent', reason: first };
    }
    return { kind: 'partial', retry: this.retry, rejected: this.rejected };
  }
}
