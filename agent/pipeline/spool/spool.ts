import { open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { PortwardenError, errorMessage } from '../../util/errors.js';
import { createExclusive, REOPEN_RW, syncDir } from '../../util/safe-fs.js';
import { Throttle } from '../../util/throttle.js';
import { encodeFrame, FrameFlag, HEADER_BYTES, MAX_PAYLOAD_BYTES, segmentName, type Frame } from './frame.js';
import { scanSpool, type ScanReport, type SegmentInfo } from './recovery.js';
import { evictSegment } from './evict.js';
import type { Lane } from '../lane.js';
import type { spoolSchema } from '../config.js';
import { SpoolHead } from './head.js';
import { WriteGroups } from './write-groups.js';
import { MemoryFrames, type SpoolHooks } from './memory.js';
import { SegmentRepairs } from './repair.js';
import { Room, type RefusalReason } from './room.js';
export type { DurabilityChange } from './memory.js';

export type SpoolConfig = z.output<typeof spoolSchema>;
const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * The durable queue: append-only segment files, one writer, group commit, a disk cap, and
 * deletion of segments once every output's persisted cursor has passed them.
 */
export class Spool {
  segments: SegmentInfo[] = [];
  nextSeq = 1;
  private writtenNext = 1;
  private durableNext = 1;
  private readonly head: SpoolHead;
  private fh: FileHandle | undefined;
  private readonly pending = new MemoryFrames();
  private readonly groups = new WriteGroups();
  readonly repairs: SegmentRepairs;
  /** Set while writes fail: events go to the outputs from memory (bounded by memory_max_bytes). */
  private degradedSince: number | undefined;
  private episode = { viaMemory: 0, dropped: 0 };
  private diskBytes = 0;
  private writing = false;
  private dirty = false;
  private closed = false;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly room = new Room(() => this.lanes);
  private timer: NodeJS.Timeout | undefined;
  /** A failing disk fails every write and every tick: one line per 30 s each, not one per attempt. */
  private readonly writeWarning = new Throttle(() => this.hooks.now());
  private readonly syncWarning = new Throttle(() => this.hooks.now());
  private writeFailing = false;
  /** Failed writes and group commits since start (full disk, I/O errors). */
  readonly failures = { write: 0, sync: 0 };
  readonly rollBytes: number;
  lanes: Lane[] = [];

  constructor(
    readonly dir: string,
    private readonly cfg: SpoolConfig,
    private readonly hooks: SpoolHooks,
  ) {
    this.rollBytes = Math.max(64 * 1024, Math.min(cfg.segment_bytes, Math.floor(cfg.max_bytes / 8)));
    this.head = new SpoolHead(dir);
    this.repairs = new SegmentRepairs(hooks);
  }

  get usedBytes(): number { return this.diskBytes + this.pending.bytes; }
  /** Whether writes are failing and events wait for the outputs in memory instead. */
  get degraded(): boolean { return this.degradedSince !== undefined; }
  get maxBytes(): number { return this.cfg.max_bytes; }
  /** Largest event JSON append() takes: half the cap (so eviction can always make room), framed. */
  get maxEventBytes(): number { return Math.min(Math.floor(this.cfg.max_bytes / 2), MAX_PAYLOAD_BYTES) - HEADER_BYTES; }

  /** Scans the segments (see scanSpool) and reopens the last one for appending. */
  async open(onFrame: (f: Frame) => void): Promise<ScanReport> {
    const headNext = await this.head.read();
    const report = await scanSpool(this.dir, headNext, onFrame);
    this.segments = report.segments;
    this.diskBytes = this.segments.reduce((n, s) => n + s.bytes, 0);
    const last = this.segments.at(-1);
    this.nextSeq = Math.max(headNext, (last?.lastSeq ?? 0) + 1, 1);
    this.writtenNext = this.durableNext = this.nextSeq;
    this.head.recorded(this.nextSeq);
    // A damaged segment not yet repaired takes nothing more: the first write starts a new one.
    if (last !== undefined && last.unrepaired === undefined) this.fh = await open(last.path, REOPEN_RW);
    return report;
  }

  /** Never reuse a seq a cursor has already passed. */
  raiseNextSeq(seq: number): void {
    if (seq > this.nextSeq) this.nextSeq = this.writtenNext = this.durableNext = seq;
  }

  start(): void {
    this.timer = setInterval(() => { void this.tick(); }, this.cfg.fsync_interval);
    this.timer.unref();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends one event; resolves once written (and fsynced for `always`). At the cap: waits
   * (block), or counts a drop for every output and resolves at once (drop_newest), or evicts the
   * oldest segment (drop_oldest). `keep` events (alerts, agent reports) are not dropped by a drop
   * policy: they wait. A stop past its handover share ends every wait (Room.release). Throws
   * synchronously for an event that can never fit or a closed spool. `always`: held in memory
   * whatever memory_max_bytes says (the spool's own degraded/resumed reports). `bytes`: the JSON's
   * UTF-8 length when the caller measured it already.
   */
  append(json: string, keep: boolean, always = false, bytes = Buffer.byteLength(json)): Promise<void> {
    const size = HEADER_BYTES + bytes;
    if (size - HEADER_BYTES > this.maxEventBytes) throw new PortwardenError('EVENT_TOO_LARGE', `event of ${size} bytes is larger than half the spool cap`);
    if (this.closed) throw new PortwardenError('PIPELINE_STOPPED', 'the pipeline is shutting down');
    if (this.degradedSince !== undefined) return this.appendInMemory(json, keep, size, always);
    if (this.usedBytes + size > this.cfg.max_bytes) return this.appendWhenFull(json, keep, size);
    return this.enqueue(encodeFrame(this.nextSeq++, this.hooks.now(), keep ? FrameFlag.alert : 0, json), undefined, true);
  }

  /** Events refused (drop_newest, too large, shutdown ...), by reason; see Room. */
  get refused(): Readonly<Record<string, number>> { return this.room.refused; }

  refuse(reason: RefusalReason): void { this.room.refuse(reason); }

  /** Stopping, and the outputs made no room in time: appends stop waiting (Room.release); true if one was. */
  release(): boolean { return this.room.release(); }

  private async appendWhenFull(json: string, keep: boolean, size: number): Promise<void> {
    while (this.usedBytes + size > this.cfg.max_bytes) {
      if (this.closed) throw new PortwardenError('PIPELINE_STOPPED', 'the pipeline is shutting down');
      if (this.degradedSince !== undefined) return this.appendInMemory(json, keep, size);
      if (!keep && this.cfg.when_full === 'drop_newest') {
        this.refuse('queue_full');
        return;
      }
      if (this.cfg.when_full === 'drop_oldest' && await this.evictOldest()) continue;
      // Only what would wait gets here: block, alerts under drop_newest, nothing left to evict.
      const released = this.room.whenReleased(this.usedBytes, size, this.cfg.max_bytes, keep);
      if (released === 'take') break;
      if (released === 'refuse') {
        this.refuse('shutdown');
        return;
      }
      await this.room.wait();
    }
    if (this.closed) throw new PortwardenError('PIPELINE_STOPPED', 'the pipeline is shutting down');
    await this.enqueue(encodeFrame(this.nextSeq++, this.hooks.now(), keep ? FrameFlag.alert : 0, json), undefined, true);
  }

  /**
   * Degraded (writes fail): the event is held in memory, where the outputs read it, and accept()
   * resolves at once; beyond memory_max_bytes (a quarter more for alerts and agent reports) it is
   * refused and counted as dropped (`spool_unwritable`) for every output.
   */
  private appendInMemory(json: string, keep: boolean, size: number, always = false): Promise<void> {
    this.pending.trimDelivered(this.lanes);
    if (!always && this.pending.bytes + size > (keep ? 1.25 : 1) * this.cfg.memory_max_bytes) {
      this.refuse('spool_unwritable');
      this.episode.dropped++;
      return Promise.resolve();
    }
    this.episode.viaMemory++;
    void this.enqueue(encodeFrame(this.nextSeq++, this.hooks.now(), keep ? FrameFlag.alert : 0, json), undefined, true, false);
    this.hooks.onWritten();
    return Promise.resolve();
  }

  private enqueue(buf: Buffer, targets: readonly string[] | undefined, isNew: boolean, join = true): Promise<void> {
    const seq = buf.readUInt32LE(8) + buf.readUInt32LE(12) * 0x1_0000_0000;
    for (const lane of this.lanes) {
      if (targets !== undefined && !targets.includes(lane.name)) continue;
      if (isNew) lane.received++;
      lane.queuedEvents++;
      lane.queuedBytes += buf.length;
    }
    this.pending.push({ buf, seq });
    const written = join ? this.groups.join(seq) : Promise.resolve();
    if (!this.writing) { this.writing = true; void this.writeLoop(); }
    return written;
  }

  private async writeLoop(): Promise<void> {
    for (;;) {
      // Degraded: what every output already has from memory is never written.
      if (this.degradedSince !== undefined) this.pending.trimDelivered(this.lanes);
      if (this.pending.length === 0) break;
      try {
        await this.exclusive(() => this.writeChunk());
        this.writeFailing = false;
      } catch (err) {
        // Disk full or an I/O error: hold the events in memory for the outputs (degraded) and try
        // again; collect() may now delete the open segment once it is delivered, so the agent frees
        // space by itself.
        this.writeFailing = true;
        this.failures.write++;
        if (this.degradedSince === undefined) this.degrade(err);
        await this.collect().catch(() => undefined);
        if (this.writeWarning.ready()) {
          this.hooks.logger.error(`spool write failed (${this.failures.write} time(s) so far); retrying every second, events go to the outputs from memory`, { error: errorMessage(err) });
        }
        if (this.closed) break;
        // Retry as soon as a delivered segment is deleted (a cursor moved), at the latest in 1 s.
        await this.room.wait(1000);
      }
    }
    this.writing = false;
    if (this.degradedSince !== undefined && !this.writeFailing && this.pending.length === 0) this.resume();
  }

  /** Writes fail: accepts waiting for their write resolve now (their events are held in memory). */
  private degrade(err: unknown): void {
    this.degradedSince = this.hooks.now();
    this.episode = { viaMemory: this.pending.length, dropped: 0 };
    this.groups.seal();
    this.groups.written(Number.MAX_SAFE_INTEGER);
    const reason = (err as NodeJS.ErrnoException).code ?? 'error';
    this.hooks.logger.error('spool degraded: writes fail, events go to the outputs from memory until the disk takes them again', { reason, error: errorMessage(err) });
    this.hooks.onDurability?.({ state: 'degraded', reason, error: errorMessage(err) });
    this.hooks.onWritten();
  }

  /** Every event held in memory is written: the spool is durable again. */
  private resume(): void {
    const degradedMs = this.hooks.now() - (this.degradedSince ?? this.hooks.now());
    this.degradedSince = undefined;
    this.hooks.logger.info('spool durable again: writes succeed', { degraded_ms: degradedMs, ...this.episode });
    this.hooks.onDurability?.({ state: 'durable', degradedMs, ...this.episode });
  }

  private async writeChunk(): Promise<void> {
    const first = this.pending.items[0];
    if (first === undefined) return;
    this.groups.seal();
    let seg = this.segments.at(-1);
    if (seg === undefined || this.fh === undefined || seg.bytes >= this.rollBytes) seg = await this.roll(first.seq);
    // A chunk never runs far past the segment size, so segments stay small enough to delete early.
    const room = Math.min(CHUNK_BYTES, this.rollBytes - seg.bytes);
    let n = 0;
    let bytes = 0;
    while (n < this.pending.length && (n === 0 || bytes < room)) bytes += this.pending.items[n++]?.buf.length ?? 0;
    let items = this.pending.items.slice(0, n);
    const fh = this.fh;
    if (fh === undefined) return;
    let done = 0;
    let failure: unknown;
    try {
      if (this.hooks.fault !== undefined) {
        const chunk = Buffer.concat(items.map((p) => p.buf), bytes);
        done = (await fh.write(chunk, 0, chunk.length >> 1, seg.bytes)).bytesWritten;
        this.hooks.fault('append.torn');
      } else {
        done = (await fh.writev(items.map((p) => p.buf), seg.bytes)).bytesWritten;
      }
      if (done < bytes) {
        const rest = Buffer.concat(items.map((p) => p.buf), bytes);
        while (done < bytes) done += (await fh.write(rest, done, bytes - done, seg.bytes + done)).bytesWritten;
      }
    } catch (err) {
      // A full disk takes part of a write: keep the whole frames that made it, retry the rest.
      failure = err;
      let whole = 0;
      let k = 0;
      while (k < n && whole + (items[k]?.buf.length ?? 0) <= done) whole += items[k++]?.buf.length ?? 0;
      if (k === 0) throw err;
      n = k;
      bytes = whole;
      items = items.slice(0, k);
    }
    // By seq: frames delivered from memory may have been trimmed during the write.
    this.pending.dropThrough(items[n - 1]?.seq ?? 0);
    this.diskBytes += bytes;
    if (seg.count === 0) seg.firstSeq = first.seq;
    seg.count += n;
    seg.bytes += bytes;
    seg.lastSeq = items[n - 1]?.seq ?? seg.lastSeq;
    this.writtenNext = seg.lastSeq + 1;
    if (this.cfg.fsync === 'always') {
      await fh.datasync();
      this.durableNext = this.writtenNext;
    } else {
      this.dirty = true;
    }
    this.groups.written(this.writtenNext);
    this.hooks.onWritten();
    // drop_oldest waiters found nothing to evict while these frames were only pending: retry now.
    this.room.wake();
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(errorMessage(failure));
  }

  private async roll(firstSeq: number): Promise<SegmentInfo> {
    if (this.fh !== undefined) {
      if (this.cfg.fsync !== 'never') await this.fh.datasync();
      this.durableNext = this.writtenNext;
      await this.fh.close();
      this.fh = undefined;
    }
    const seg: SegmentInfo = { id: firstSeq, path: join(this.dir, segmentName(firstSeq)), bytes: 0, firstSeq, lastSeq: firstSeq - 1, count: 0 };
    this.fh = await createExclusive(seg.path);
    this.segments.push(seg);
    if (this.cfg.fsync !== 'never') await syncDir(this.dir);
    return seg;
  }

  /** Group commit: fsync what was written since the last tick, then record the head. */
  async tick(): Promise<void> {
    await this.exclusive(async () => {
      if (this.dirty && this.fh !== undefined && this.cfg.fsync === 'interval') await this.fh.datasync();
      this.dirty = false;
      this.durableNext = this.writtenNext;
      await this.head.write(this.durableNext, this.cfg.fsync !== 'never');
      this.diskBytes -= await this.repairs.retry(this.segments, this.lanes);
    }).catch((err: unknown) => {
      this.failures.sync++;
      if (!this.syncWarning.ready()) return;
      this.hooks.logger.warn(`spool fsync failed (${this.failures.sync} time(s) so far)`, { error: errorMessage(err) });
    });
  }

  /**
   * Deletes every closed segment that all outputs' persisted cursors have passed; also the open one
   * when writes are failing (a full disk) or `includeOpen` (start-up), so space comes back by itself.
   */
  async collect(includeOpen = false): Promise<void> {
    await this.exclusive(async () => {
      // After close the next run owns the files; it collects once its cursors move.
      if (this.closed) return;
      const delivered = (seg: SegmentInfo): boolean => this.lanes.every((l) => (l.cursor.durable?.seq ?? 0) > seg.lastSeq);
      for (let seg = this.segments[0]; this.segments.length > 1 && seg !== undefined && delivered(seg); seg = this.segments[0]) await this.unlink(seg);
      const last = this.segments[0];
      if (this.segments.length === 1 && last !== undefined && (includeOpen || this.writeFailing) && delivered(last)) {
        await this.fh?.close();
        this.fh = undefined;
        await this.unlink(last);
      }
    });
  }

  private async unlink(seg: SegmentInfo): Promise<void> {
    this.hooks.fault?.('segment.unlink');
    await rm(seg.path, { force: true });
    this.segments.splice(this.segments.indexOf(seg), 1);
    this.diskBytes -= seg.bytes;
    this.room.wake();
  }

  /**
   * drop_oldest: removes the oldest segment, counting what each output had not yet read as
   * dropped, except alerts, which are appended again for the outputs that still need them.
   * Returns false when it could not free anything.
   */
  private evictOldest(): Promise<boolean> {
    return this.exclusive(async () => {
      if (this.segments.length === 1 && this.fh !== undefined && (this.segments[0]?.count ?? 0) > 0) await this.roll(this.writtenNext);
      const seg = this.segments[0];
      if (seg === undefined || seg === this.segments.at(-1)) return false;
      const next = this.segments[1];
      if (next === undefined) return false;
      const buf = await readFile(seg.path).catch(() => Buffer.alloc(0));
      const rescue = evictSegment(buf, seg, next, this.lanes);
      await this.unlink(seg);
      const rescuedBytes = rescue.reduce((n, r) => n + r.frame.bytes, 0);
      for (const r of rescue) {
        this.enqueue(encodeFrame(this.nextSeq++, r.frame.time, r.frame.flags, r.frame.payload.toString('utf8'), r.lanes), r.lanes, false).catch(() => undefined);
      }
      if (rescue.length > 0) this.hooks.logger.warn('spool full: kept alerts from a dropped segment', { alerts: rescue.length });
      return seg.bytes > rescuedBytes;
    });
  }

  /** Stops intake (pending appends are still written), flushes, fsyncs and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.room.wake();
    while (this.writing) await new Promise((r) => setImmediate(r));
    await this.tick();
    await this.exclusive(async () => {
      if (this.cfg.fsync !== 'never') await this.fh?.datasync();
      await this.fh?.close();
      this.fh = undefined;
    }).catch(() => undefined);
    // Events still held in memory stay readable for the outputs' last drain (abandonMemory()).
    this.groups.failAll();
  }

  /** While degraded: the frames in memory from `from` on for output `name` (see MemoryFrames.read). */
  memoryFrames(from: number, name: string, max: number, maxBytes: number): ReturnType<MemoryFrames['read']> {
    return this.degradedSince === undefined ? [] : this.pending.read(from, name, max, maxBytes);
  }

  /** After close and the outputs' last drain: what is still only in memory is lost, counted per output. */
  abandonMemory(): Record<string, number> {
    return this.pending.abandon(this.lanes);
  }
}
