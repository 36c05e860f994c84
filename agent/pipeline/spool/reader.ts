import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from '../../log/logger.js';
import { decodeFrame, frameIsFor } from './frame.js';
import type { Frame } from './frame.js';
import type { CursorPos } from '../cursor-store.js';
import type { Lane } from '../lane.js';
import type { SegmentInfo } from './recovery.js';

export interface ReadResult {
  frames: Frame[];
  /** Where each frame starts, index-aligned with frames (to acknowledge a prefix at shutdown). */
  starts: CursorPos[];
  /** Position after the last frame consumed (frames for other outputs are consumed silently). */
  end: CursorPos;
}

/**
 * Reads one output's next frames straight from the segment files, so memory holds one batch per
 * output however large the backlog on disk is.
 */
export class LaneReader {
  private fh: FileHandle | undefined;
  private fhId = -1;
  /** The layout of the segment when fh was opened (a rewrite replaces the file under the same name). */
  private fhLayout = 0;
  private bufSize = 256 * 1024;

  constructor(
    private readonly segments: () => readonly SegmentInfo[],
    private readonly lane: Lane,
    private readonly logger: Logger,
    /** Frames held in memory past the files (the spool is degraded), from a seq on; none otherwise. */
    private readonly memory: (from: number, name: string, max: number, maxBytes: number) => Frame[] = () => [],
  ) {}

  /**
   * Caught up with the files: the frames held in memory after them. Synchronous with the check
   * that found the end of the files, so no frame can move from memory to a file in between.
   */
  private fromMemory(pos: CursorPos, seg: SegmentInfo | undefined, frames: Frame[], starts: CursorPos[], maxEvents: number, maxBytes: number): CursorPos {
    if (frames.length >= maxEvents) return pos;
    // Not degraded (the usual case): nothing held, nothing more to count.
    const held = this.memory(pos.seq, this.lane.name, maxEvents - frames.length, maxBytes);
    if (held.length === 0) return pos;
    let bytes = frames.reduce((n, f) => n + f.bytes, 0);
    const more: Frame[] = [];
    for (const f of held) {
      if ((frames.length > 0 || more.length > 0) && bytes + f.bytes > maxBytes) break;
      more.push(f);
      bytes += f.bytes;
    }
    // The frames go to the end of the last file when written: where this output resumes after them.
    const at = seg === undefined ? { segment: pos.seq, offset: 0 } : { segment: seg.id, offset: seg.bytes, layout: seg.layout ?? 0 };
    for (const f of more) {
      frames.push(f);
      starts.push({ seq: f.seq, ...at });
    }
    const last = more.at(-1);
    return last === undefined ? pos : { seq: last.seq + 1, ...at };
  }

  private locate(pos: CursorPos): SegmentInfo | undefined {
    const segs = this.segments();
    const byId = segs.find((s) => s.id === pos.segment);
    if (byId !== undefined && pos.seq <= byId.lastSeq + 1) return byId;
    let found: SegmentInfo | undefined = segs[0];
    for (const s of segs) if (s.id <= pos.seq) found = s;
    return found;
  }

  private async handle(seg: SegmentInfo): Promise<FileHandle> {
    const layout = seg.layout ?? 0;
    if (this.fh !== undefined && this.fhId === seg.id && this.fhLayout === layout) return this.fh;
    await this.close();
    this.fh = await open(seg.path, 'r');
    this.fhId = seg.id;
    // The layout asked for: if a rewrite replaced the file meanwhile, read() sees the mismatch.
    this.fhLayout = layout;
    return this.fh;
  }

  async read(from: CursorPos, maxEvents: number, maxBytes: number): Promise<ReadResult> {
    let pos = { ...from };
    const frames: Frame[] = [];
    const starts: CursorPos[] = [];
    let bytes = 0;
    for (;;) {
      const seg = this.locate(pos);
      if (seg === undefined) {
        pos = this.fromMemory(pos, undefined, frames, starts, maxEvents, maxBytes);
        break;
      }
      if (seg.id !== pos.segment) pos = { seq: pos.seq, segment: seg.id, offset: 0 };
      // Rewritten since this offset was taken (a retried repair moved the frames): find the place
      // again from the start by seq (frames before pos.seq are passed over below).
      if (pos.offset > 0 && (pos.layout ?? 0) !== (seg.layout ?? 0)) pos = { seq: pos.seq, segment: seg.id, offset: 0 };
      const segs = this.segments();
      // Damage the disk would not let start-up cut out yet: jumped over, and never read into.
      const hole = seg.holes?.find(([from, to]) => pos.offset >= from && pos.offset < to);
      if (hole !== undefined) { pos = { seq: pos.seq, segment: seg.id, offset: hole[1], layout: seg.layout ?? 0 }; continue; }
      const limit = Math.min(seg.bytes, ...(seg.holes ?? []).filter(([from]) => from > pos.offset).map(([from]) => from));
      if (pos.offset >= seg.bytes) {
        const next = segs[segs.indexOf(seg) + 1];
        if (next === undefined) {
          pos = this.fromMemory(pos, seg, frames, starts, maxEvents, maxBytes);
          // Caught up: let go of the file, so a segment deleted meanwhile frees its space.
          await this.close();
          break;
        }
        pos = { seq: Math.max(pos.seq, next.firstSeq), segment: next.id, offset: 0 };
        continue;
      }
      let fh: FileHandle;
      try {
        fh = await this.handle(seg);
      } catch {
        // Deleted under us (drop_oldest); the next locate() finds where to go.
        if (!this.segments().includes(seg)) continue;
        // Gone or unreadable behind the spool's back: count it, never stall on it.
        return this.corrupt(seg, pos, frames, starts);
      }
      // Rewritten while the file was opened: `limit` and the offset belong to the old layout.
      if (this.fhLayout !== (seg.layout ?? 0)) continue;
      // Offsets below are in the layout of the file read (a rewrite during the read is seen next turn).
      const layout = this.fhLayout;
      const want = Math.min(this.bufSize, limit - pos.offset);
      // A fresh buffer per read: the frames handed out are views into it.
      const chunk0 = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(chunk0, 0, want, pos.offset);
      const chunk = chunk0.subarray(0, bytesRead);
      let off = 0;
      let full = false;
      while (off < chunk.length) {
        const r = decodeFrame(chunk, off);
        if (r.kind === 'short') {
          if (off === 0 && bytesRead === limit - pos.offset) return this.corrupt(seg, pos, frames, starts);
          if (off === 0) this.bufSize = Math.max(r.need, this.bufSize * 2);
          break;
        }
        if (r.kind === 'bad') return this.corrupt(seg, pos, frames, starts);
        const f = r.frame;
        if (f.seq >= pos.seq && frameIsFor(f, this.lane.name)) {
          if (frames.length >= maxEvents || (frames.length > 0 && bytes + f.bytes > maxBytes)) { full = true; break; }
          frames.push(f);
          starts.push({ seq: f.seq, segment: seg.id, offset: pos.offset, layout });
          bytes += f.bytes;
        }
        off += f.bytes;
        pos = { seq: Math.max(pos.seq, f.seq + 1), segment: seg.id, offset: pos.offset + f.bytes, layout };
      }
      if (full || frames.length >= maxEvents) break;
      if (bytesRead === 0) break;
    }
    return { frames, starts, end: pos };
  }

  /** A frame that went bad after start-up: skip the rest of the segment and count it. */
  private corrupt(seg: SegmentInfo, pos: CursorPos, frames: Frame[], starts: CursorPos[]): ReadResult {
    if (frames.length > 0) return { frames, starts, end: pos };
    const segs = this.segments();
    const next = segs[segs.indexOf(seg) + 1];
    const lost = Math.max(0, seg.lastSeq - pos.seq + 1);
    this.logger.error('spool segment damaged while running; skipping the rest of it', { segment: seg.path, events: lost });
    this.lane.count('dropped', 'corrupt', lost);
    this.lane.queuedEvents -= lost;
    const end = next === undefined
      ? { seq: seg.lastSeq + 1, segment: seg.id, offset: seg.bytes, layout: seg.layout ?? 0 }
      : { seq: next.firstSeq, segment: next.id, offset: 0 };
    return { frames: [], starts: [], end };
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    this.fhId = -1;
    await fh?.close();
  }
}
