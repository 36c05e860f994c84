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

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/**
 * Turns the result of sending only the first `sent` of `total` events into the result for the
 * whole batch: the unsent tail goes around again, and nothing the peer did not confirm counts
 * as delivered.
 */
export function liftPrefixResult(r: SendResult, sent: number, total: number): SendResult {
  if (sent >= total) return r;
  const tail = range(sent, total);
  switch (r.kind) {
    case 'ok':
      return { kind: 'partial', retry: tail, rejected: [] };
    case 'partial':
      return { kind: 'partial', retry: [...r.retry, ...tail], rejected: r.rejected };
    case 'permanent':
      return { kind: 'partial', retry: tail, rejected: range(0, sent).map((index) => ({ index, reason: r.reason })) };
    case 'retryable':
    case 'paused':
      return r;
  }
}
