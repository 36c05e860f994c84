import { renameSync } from 'node:fs';
import { open, readFile, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createExclusive, REOPEN_RW, syncDir, tempPath } from '../../util/safe-fs.js';
import { errorMessage } from '../../util/errors.js';
import type { Lane } from '../lane.js';
import type { SpoolHooks } from './memory.js';

/** A segment file as the spool tracks it. */
export interface SegmentInfo {
  /** The seq in the file name (a lower bound of its frames' seqs). */
  id: number;
  path: string;
  /** Bytes written (for the active segment: what readers may read). */
  bytes: number;
  /** Seq of the first and last frame in it; lastSeq < firstSeq when empty. */
  firstSeq: number;
  lastSeq: number;
  count: number;
  /**
   * Damage found at start-up that could not be cut out on disk yet (a full disk): byte ranges of bad
   * runs between good frames, which readers skip (a damaged tail is left out of `bytes` instead).
   */
  holes?: [from: number, to: number][];
  /** Set while the segment's damage is only skipped in memory; the spool retries the repair. */
  unrepaired?: true;
  /**
   * Bumped when a rewrite moves the frames (offsets taken before point into the old file): a
   * reader holding such an offset finds its place again by seq (see LaneReader).
   */
  layout?: number;
  /** Set while a rewrite is not even tried: the filesystem has less free space than it needs (see spaceWait). */
  waitsForSpace?: SpaceWait;
}

/** A rewrite put off for want of space: the bytes it waits for (what it writes plus the margin) and those free when last checked. */
export interface SpaceWait { needBytes: number; freeBytes: number }

/** How long after a failed repair the spool tries again (the disk is probably still full). */
export const REPAIR_RETRY_MS = 5000;

/**
 * Free space a rewrite leaves to everything else on the filesystem: 1 % of it (the rewrite never
 * takes the disk past 99 % for its temporary copy), at least 64 KiB (a tiny filesystem), at most
 * 64 MiB (a large one need not hold gigabytes back for a copy of one segment).
 */
export function repairMargin(fsBytes: number): number {
  return Math.min(64 * 1024 * 1024, Math.max(64 * 1024, Math.floor(fsBytes / 100)));
}

/** What a repair of `seg` writes: its good frames for a rewrite, nothing for a tail cut in place. */
export function rewriteBytes(seg: SegmentInfo): number {
  const holes = seg.holes ?? [];
  if (holes.length === 0) return 0;
  return seg.bytes - holes.reduce((n, [from, to]) => n + (to - from), 0);
}

/**
 * Undefined when a repair of `seg` may be tried now: it writes nothing (a tail), or the filesystem
 * has at least the bytes it writes plus repairMargin free for an unprivileged writer (statfs
 * bavail), or statfs fails (then the attempt tells). Otherwise what it waits for: trying would
 * fill the disk to the last byte for an instant, and other services on it would get ENOSPC.
 */
export async function spaceWait(seg: SegmentInfo): Promise<SpaceWait | undefined> {
  const writes = rewriteBytes(seg);
  if (writes === 0) return undefined;
  const fs = await statfs(dirname(seg.path)).catch(() => undefined);
  if (fs === undefined) return undefined;
  const freeBytes = fs.bavail * fs.bsize;
  const needBytes = writes + repairMargin(fs.blocks * fs.bsize);
  return freeBytes >= needBytes ? undefined : { needBytes, freeBytes };
}

/** How a put-off rewrite is reported (the start-up warning's error, the retry's warning; the status problem says the same). */
export function spaceWaitMessage(w: SpaceWait): string {
  return `the rewrite waits for ${w.needBytes} bytes free, ${w.freeBytes} free now`;
}

/**
 * Cuts a damaged segment's bad bytes out on disk. A damaged tail alone (`holes` empty, `bytes` the
 * end of its last good frame) is truncated in place, which needs no free space and keeps every good
 * frame where it was; bad runs between good frames need a rewrite (safe-fs writeAtomic: tmp, fsync,
 * rename, fsync dir), which needs room for the good frames. Throws when the disk refuses; the
 * segment is then left as it was, and `seg` still describes its damage.
 */
export async function repairSegment(seg: SegmentInfo, buf?: Buffer): Promise<void> {
  const holes = seg.holes ?? [];
  if (holes.length === 0) {
    const fh = await open(seg.path, REOPEN_RW);
    try {
      await fh.truncate(seg.bytes);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } else {
    const data = buf ?? await readFile(seg.path);
    const parts: Buffer[] = [];
    let at = 0;
    for (const [from, to] of holes) { parts.push(data.subarray(at, from)); at = to; }
    parts.push(data.subarray(at, seg.bytes));
    const good = Buffer.concat(parts);
    await replace(seg.path, good, () => {
      seg.bytes = good.length;
      seg.layout = (seg.layout ?? 0) + 1;
      delete seg.holes;
      delete seg.unrepaired;
      delete seg.waitsForSpace;
    });
    return;
  }
  delete seg.holes;
  delete seg.unrepaired;
  delete seg.waitsForSpace;
}

/**
 * safe-fs writeAtomic (tmp, fsync, rename, fsync dir; a failed write leaves no temp file), with the
 * rename and `replaced` (the segment's new layout) in one synchronous step: the readers run on the
 * same thread, so none can ever pair the new file with the old layout or the old file with the new.
 */
async function replace(path: string, data: Buffer, replaced: () => void): Promise<void> {
  const tmp = tempPath(path);
  try {
    const fh = await createExclusive(tmp);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    renameSync(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  replaced();
  // Best effort: without it a power loss may bring back the damaged file, which the next start repairs.
  await syncDir(dirname(path)).catch(() => undefined);
}

/**
 * Whether `seg` may be rewritten now: a rewrite moves the frames after a hole, so no output may hold
 * a position inside it (each has either not started reading it or is past it). Truncating a tail
 * moves nothing and is always safe.
 */
export function safeToRepair(seg: SegmentInfo, lanes: readonly Lane[]): boolean {
  if ((seg.holes ?? []).length === 0) return true;
  return lanes.every((l) => l.readPos.seq <= seg.firstSeq || l.ackPos.seq > seg.lastSeq);
}

/**
 * Retries the repairs start-up could not make (spool.tick, under the spool's lock), at most every
 * REPAIR_RETRY_MS after a failure or a rewrite put off for want of space (spaceWait; logged once
 * when a segment starts waiting, its figures kept on the segment for the status). Returns the
 * bytes the rewritten segments shrank by.
 */
export class SegmentRepairs {
  private nextTry = 0;
  /** Repairs tried on disk, and rewrites not tried for want of free space, since start. */
  readonly counts = { attempted: 0, putOff: 0 };

  constructor(private readonly hooks: SpoolHooks) {}

  async retry(segments: readonly SegmentInfo[], lanes: readonly Lane[]): Promise<number> {
    const now = this.hooks.now();
    let freed = 0;
    if (now < this.nextTry) return freed;
    for (const seg of segments) {
      if (seg.unrepaired === undefined || !safeToRepair(seg, lanes)) continue;
      const wait = await spaceWait(seg);
      if (wait !== undefined) {
        this.counts.putOff++;
        this.nextTry = now + REPAIR_RETRY_MS;
        if (seg.waitsForSpace === undefined) {
          this.hooks.logger.warn(`damaged spool segment not rewritten yet: ${spaceWaitMessage(wait)}`, { segment: seg.path, need_bytes: wait.needBytes, free_bytes: wait.freeBytes });
        }
        seg.waitsForSpace = wait;
        continue;
      }
      delete seg.waitsForSpace;
      const before = seg.bytes;
      this.counts.attempted++;
      try {
        await repairSegment(seg);
        freed += before - seg.bytes;
        this.hooks.logger.info('damaged spool segment repaired', { segment: seg.path });
      } catch (err) {
        this.nextTry = now + REPAIR_RETRY_MS;
        this.hooks.logger.debug('damaged spool segment still cannot be repaired', { segment: seg.path, error: errorMessage(err) });
        return freed + before - seg.bytes;
      }
    }
    return freed;
  }
}
