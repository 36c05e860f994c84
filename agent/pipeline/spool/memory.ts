import { decodeFrame, frameIsFor } from './frame.js';
import type { Frame } from './frame.js';
import type { Lane } from '../lane.js';
import type { Logger } from '../../log/logger.js';
import type { FaultHook } from '../fault.js';

/** The spool stopped or resumed writing to disk (see Spool.degraded). */
export type DurabilityChange =
  | { state: 'degraded'; reason: string; error: string }
  | { state: 'durable'; degradedMs: number; viaMemory: number; dropped: number };

export interface SpoolHooks {
  now: () => number;
  logger: Logger;
  fault: FaultHook | undefined;
  onWritten: () => void;
  onDurability?: (change: DurabilityChange) => void;
}

/** An encoded frame not (yet) written to a segment file. */
export interface Pending { buf: Buffer; seq: number }

/**
 * The frames the spool holds in memory, in seq order: those waiting for the next write, and while
 * the spool is degraded (writes fail: full disk, I/O error) the ones the outputs read from memory.
 */
export class MemoryFrames {
  items: Pending[] = [];
  bytes = 0;

  get length(): number { return this.items.length; }

  push(p: Pending): void {
    this.items.push(p);
    this.bytes += p.buf.length;
  }

  /** Removes the leading frames with seq <= `lastSeq` (written, or delivered everywhere). */
  dropThrough(lastSeq: number): void {
    let k = 0;
    let b = 0;
    while (k < this.items.length && (this.items[k]?.seq ?? Infinity) <= lastSeq) b += this.items[k++]?.buf.length ?? 0;
    if (k === 0) return;
    this.items.splice(0, k);
    this.bytes -= b;
  }

  /** Forgets what every output has acknowledged (it never needs writing). */
  trimDelivered(lanes: readonly Lane[]): void {
    if (lanes.length === 0) return;
    let floor = Infinity;
    for (const l of lanes) floor = Math.min(floor, l.ackPos.seq);
    this.dropThrough(floor - 1);
  }

  /** Up to `max` frames with seq >= `from` for output `name` (decoded; views into the held buffers). */
  read(from: number, name: string, max: number, maxBytes: number): Frame[] {
    const out: Frame[] = [];
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.items[mid]?.seq ?? Infinity) < from) lo = mid + 1;
      else hi = mid;
    }
    let bytes = 0;
    for (let i = lo; i < this.items.length && out.length < max; i++) {
      const r = decodeFrame(this.items[i]?.buf ?? Buffer.alloc(0), 0);
      if (r.kind !== 'frame') continue;
      if (!frameIsFor(r.frame, name)) continue;
      if (out.length > 0 && bytes + r.frame.bytes > maxBytes) break;
      out.push(r.frame);
      bytes += r.frame.bytes;
    }
    return out;
  }

  /** The seq after the last held frame, or undefined when none is held. */
  get endSeq(): number | undefined {
    const last = this.items.at(-1);
    return last === undefined ? undefined : last.seq + 1;
  }

  /**
   * Shutdown with frames never written: each output that had not acknowledged one loses it,
   * counted as dropped (`spool_unwritable`). Returns the count per output.
   */
  abandon(lanes: readonly Lane[]): Record<string, number> {
    const lost: Record<string, number> = {};
    for (const lane of lanes) {
      let n = 0;
      let b = 0;
      for (const p of this.items) {
        if (p.seq < lane.ackPos.seq) continue;
        const r = decodeFrame(p.buf, 0);
        if (r.kind === 'frame' && !frameIsFor(r.frame, lane.name)) continue;
        n++;
        b += p.buf.length;
      }
      if (n === 0) continue;
      lane.count('dropped', 'spool_unwritable', n);
      lane.queuedEvents -= n;
      lane.queuedBytes -= b;
      lost[lane.name] = n;
    }
    this.items = [];
    this.bytes = 0;
    return lost;
  }
}
