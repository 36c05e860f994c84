import { decodeFrame, FrameFlag, frameIsFor } from './frame.js';
import type { Frame } from './frame.js';
import type { Lane } from '../lane.js';
import type { SegmentInfo } from './recovery.js';

export interface Rescue {
  frame: Frame;
  /** Outputs that had not read it yet. */
  lanes: string[];
}

/**
 * drop_oldest bookkeeping for one segment about to be deleted (`buf` is its content): every output
 * that had not read a frame counts it as dropped, except alerts and agent reports, which are
 * returned to be appended again for exactly those outputs. Outputs reading inside the segment
 * jump to the start of `next`; the batch an output has in flight is left alone.
 */
export function evictSegment(buf: Buffer, seg: SegmentInfo, next: SegmentInfo, lanes: readonly Lane[]): Rescue[] {
  const rescue: Rescue[] = [];
  for (let off = 0; off < buf.length;) {
    // Damage start-up could not cut out yet (an unrepaired segment): the frames after it count too.
    const hole = seg.holes?.find(([from]) => from === off);
    if (hole !== undefined) { off = hole[1]; continue; }
    const r = decodeFrame(buf, off);
    if (r.kind !== 'frame') break;
    const f = r.frame;
    const keep = (f.flags & FrameFlag.alert) !== 0;
    const owed = lanes.filter((l) => l.readPos.seq <= f.seq && frameIsFor(f, l.name));
    for (const lane of owed) {
      lane.queuedEvents--;
      lane.queuedBytes -= f.bytes;
      if (!keep) lane.count('dropped', 'queue_full');
    }
    if (keep && owed.length > 0) rescue.push({ frame: f, lanes: owed.map((l) => l.name) });
    off += f.bytes;
  }
  for (const lane of lanes) {
    if (lane.readPos.seq > seg.lastSeq) continue;
    const from = lane.readPos.seq;
    lane.readPos = { seq: Math.max(seg.lastSeq + 1, lane.readPos.seq), segment: next.id, offset: 0 };
    lane.generation++;
    // Persist now, so a restart does not report these drops a second time as lost: the cursor
    // itself when nothing is in flight, else (it stays before the batch) the range counted.
    if (lane.inFlight) lane.cursor.markCounted(from, lane.readPos.seq);
    else lane.ackPos = lane.readPos;
    lane.cursor.save(lane.ackPos).catch(() => undefined);
  }
  return rescue;
}
