import { readFile, readdir, rename, rm } from 'node:fs/promises';
import { mkdirPrivate } from '../../util/safe-fs.js';
import { errorMessage } from '../../util/errors.js';
import { join } from 'node:path';
import { decodeFrame, HEADER_BYTES, parseSegmentName } from './frame.js';
import type { Frame } from './frame.js';
import { repairSegment, spaceWait, spaceWaitMessage, type SegmentInfo } from './repair.js';

export type { SegmentInfo } from './repair.js';

export interface ScanReport {
  segments: SegmentInfo[];
  /** Seqs that had been written but could not be recovered (gaps, bad frames, torn tail). */
  lostSeqs: [from: number, to: number][];
  /** Segment files that could not be read at all (moved aside to `<name>.unreadable-<ms>`). */
  unreadable: string[];
  /** Bytes cut out of segments (torn tails, corrupt runs). */
  droppedBytes: number;
  /** Segment files that were rewritten without their bad frames. */
  repaired: string[];
  /** Damaged segments the disk would not let be repaired yet (kept as they were, damage skipped in memory). */
  unrepaired: { name: string; error: string }[];
}

/** Finds the next decodable frame after a bad one whose seq fits between `after` and `before`. */
function resync(buf: Buffer, from: number, after: number, before: number): number | undefined {
  for (let off = from; off + HEADER_BYTES <= buf.length; off++) {
    const seq = buf.readUInt32LE(off + 8) + buf.readUInt32LE(off + 12) * 0x1_0000_0000;
    if (seq <= after || seq >= before) continue;
    if (decodeFrame(buf, off).kind === 'frame') return off;
  }
  return undefined;
}

/**
 * Reads every segment under `dir`, keeps the frames whose checksums hold, cuts the bad bytes out of
 * a damaged segment (repairSegment; when the disk refuses, the segment is kept as it was and marked
 * `unrepaired`), deletes files that hold nothing, and reports what was lost.
 * `onFrame` sees every good frame in seq order (the pipeline counts each output's backlog with it).
 * `headNext` is the next seq the previous run had durably written (head.json), to detect a lost tail.
 */
export async function scanSpool(dir: string, headNext: number, onFrame: (f: Frame) => void): Promise<ScanReport> {
  await mkdirPrivate(dir);
  const names = (await readdir(dir)).filter((n) => parseSegmentName(n) !== undefined).sort();
  const report: ScanReport = { segments: [], lostSeqs: [], droppedBytes: 0, repaired: [], unreadable: [], unrepaired: [] };
  let expected: number | undefined;
  const lose = (from: number, to: number): void => { if (to >= from) report.lostSeqs.push([from, to]); };
  for (const [i, name] of names.entries()) {
    const id = parseSegmentName(name) ?? 0;
    const nextId = parseSegmentName(names[i + 1] ?? '') ?? Number.MAX_SAFE_INTEGER;
    const path = join(dir, name);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch {
      // Unreadable (EIO, EISDIR ...): it costs its own frames only, up to the next segment (or the
      // recorded head), counted exactly; the file is moved aside for forensics, the others are kept.
      const from = expected ?? id;
      const to = nextId === Number.MAX_SAFE_INTEGER ? headNext - 1 : nextId - 1;
      lose(from, to);
      expected = Math.max(from, to + 1);
      report.unreadable.push(name);
      await rename(path, `${path}.unreadable-${Date.now()}`).catch(() => undefined);
      continue;
    }
    const holes: [number, number][] = [];
    let off = 0;
    const seg: SegmentInfo = { id, path, bytes: 0, firstSeq: id, lastSeq: id - 1, count: 0 };
    let last = (expected ?? id) - 1;
    while (off < buf.length) {
      const r = decodeFrame(buf, off);
      if (r.kind === 'frame' && r.frame.seq > last && r.frame.seq < nextId) {
        if (seg.count === 0) seg.firstSeq = r.frame.seq;
        lose(last + 1, r.frame.seq - 1);
        onFrame(r.frame);
        last = seg.lastSeq = r.frame.seq;
        seg.count++;
        off += r.frame.bytes;
        seg.bytes = off;
        continue;
      }
      const next = resync(buf, off + 1, last, nextId);
      report.droppedBytes += (next ?? buf.length) - off;
      if (next !== undefined) holes.push([off, next]);
      if (next === undefined) break;
      off = next;
    }
    expected = last + 1;
    if (seg.count === 0) {
      await rm(path, { force: true });
      if (buf.length > 0) report.repaired.push(name);
      continue;
    }
    if (holes.length > 0 || seg.bytes < buf.length) {
      // Bad runs before the last good frame are holes; a bad tail is what lies past seg.bytes.
      seg.holes = holes.filter(([from]) => from < seg.bytes);
      const wait = await spaceWait(seg);
      try {
        // Too little free space: not tried (the copy would fill the disk), reported as a refusal.
        if (wait !== undefined) throw new Error(spaceWaitMessage(wait));
        await repairSegment(seg, buf);
        report.repaired.push(name);
      } catch (err) {
        // A full disk (or a failing one) must not stop the start: the good frames are delivered
        // from the file as it is, the damage is skipped in memory, and the spool retries.
        seg.unrepaired = true;
        if (wait !== undefined) seg.waitsForSpace = wait;
        report.unrepaired.push({ name, error: errorMessage(err) });
      }
    }
    report.segments.push(seg);
  }
  // The tail the last run wrote (per head.json) but that is not on disk any more.
  lose(expected ?? headNext, headNext - 1);
  return report;
}
