import { open, readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { mkdirPrivate, REOPEN_RW, writeAtomic } from '../util/safe-fs.js';
import type { FaultHook } from './fault.js';

/** Where an output has got to: the next seq to deliver and a hint where its frame starts. */
export interface CursorPos {
  seq: number;
  /** firstSeq of the segment that holds `seq` (a hint; verified before use). */
  segment: number;
  offset: number;
  /** The segment's layout `offset` was taken in (SegmentInfo.layout; absent: 0). Never persisted. */
  layout?: number;
}

/** Seqs [from, to) this output already counted as dropped (evicted while its batch was in flight). */
export type CountedRange = [from: number, to: number];

export type CursorLoad =
  | { kind: 'ok'; pos: CursorPos; counted?: CountedRange }
  | { kind: 'missing' }
  | { kind: 'corrupt'; why: string };

function encode(pos: CursorPos, counted: CountedRange | undefined): string {
  const body = JSON.stringify({ v: 1, seq: pos.seq, segment: pos.segment, offset: pos.offset, ...(counted === undefined ? {} : { counted }) });
  return `${body}\n${crc32(body).toString(16)}\n`;
}

export function decodeCursor(text: string): CursorLoad {
  const [body, sum] = text.split('\n');
  if (body === undefined || sum === undefined || crc32(body).toString(16) !== sum) return { kind: 'corrupt', why: 'checksum mismatch' };
  try {
    const v = JSON.parse(body) as Partial<CursorPos> & { counted?: unknown };
    const ok = [v.seq, v.segment, v.offset].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
    if (!ok) return { kind: 'corrupt', why: 'bad fields' };
    const pos = { seq: v.seq, segment: v.segment, offset: v.offset } as CursorPos;
    const c = v.counted;
    const counted = Array.isArray(c) && c.length === 2 && c.every((n) => Number.isSafeInteger(n)) ? c as CountedRange : undefined;
    return counted === undefined ? { kind: 'ok', pos } : { kind: 'ok', pos, counted };
  } catch {
    return { kind: 'corrupt', why: 'not JSON' };
  }
}

/**
 * One output's persisted cursor (`<dir>/<name>.cursor`), written atomically: tmp file, fsync,
 * rename, fsync of the directory. Saves coalesce: one write in flight, the newest position wins.
 */
export class CursorStore {
  private persisted: CursorPos | undefined;
  private wanted: CursorPos | undefined;
  private counted: CountedRange | undefined;
  /** The counted range changed since the last write: write even at the same position. */
  private countedDirty = false;
  private writing: Promise<void> | undefined;
  private readonly path: string;

  constructor(
    private readonly dir: string,
    readonly name: string,
    private readonly sync: boolean,
    private readonly onPersisted: (pos: CursorPos) => void,
    private readonly fault: FaultHook | undefined,
  ) {
    this.path = join(dir, `${name}.cursor`);
  }

  async load(): Promise<CursorLoad> {
    await mkdirPrivate(this.dir);
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      return { kind: 'corrupt', why: String(err) };
    }
    const r = decodeCursor(text);
    if (r.kind === 'ok') {
      this.persisted = r.pos;
      this.counted = r.counted;
    }
    return r;
  }

  /** The position known to be on disk (segments before it may be deleted). */
  get durable(): CursorPos | undefined {
    return this.persisted;
  }

  /**
   * Records (with the next write) that seqs [from, to) were counted as dropped for this output
   * while its cursor stays before them (drop_oldest evicted them under its batch in flight), so a
   * restart from that cursor does not count them again as lost. Kept until the cursor passes them.
   */
  markCounted(from: number, to: number): void {
    const c = this.counted;
    this.counted = c !== undefined && c[1] >= from ? [Math.min(c[0], from), Math.max(c[1], to)] : [from, to];
    this.countedDirty = true;
  }

  /** Asks for `pos` to be persisted; resolves once it (or a later position) is on disk. */
  save(pos: CursorPos): Promise<void> {
    const newer = this.wanted === undefined || pos.seq > this.wanted.seq;
    if (!newer && !this.countedDirty) return this.writing ?? Promise.resolve();
    if (newer) this.wanted = pos;
    this.writing ??= this.loop().finally(() => { this.writing = undefined; });
    return this.writing;
  }

  private async loop(): Promise<void> {
    while (this.wanted !== undefined && (this.persisted === undefined || this.wanted.seq > this.persisted.seq || this.countedDirty)) {
      const pos = this.wanted;
      this.countedDirty = false;
      await this.write(pos).catch((err: unknown) => { this.countedDirty ||= this.counted !== undefined; throw err; });
      this.persisted = pos;
      this.onPersisted(pos);
    }
  }

  private write(pos: CursorPos): Promise<void> {
    if (this.counted !== undefined && pos.seq >= this.counted[1]) this.counted = undefined;
    return writeStateFile(this.path, encode(pos, this.counted), this.sync, () => this.fault?.('cursor.tmp'));
  }
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Replaces a small state file (a cursor, the spool head, the status file) atomically: safe-fs
 * writeAtomic, with fsyncs of the file and the directory when `sync`.
 * On a full disk (ENOSPC, EDQUOT) the file is rewritten in place instead, padded to its old size,
 * so it needs no new blocks: a torn in-place write is caught by the reader's checks (cursor CRC,
 * head JSON) and costs duplicates, never loss.
 */
export async function writeStateFile(path: string, text: string, sync: boolean, beforeRename?: () => void): Promise<void> {
  try {
    await writeAtomic(path, text, { sync, syncDir: sync, ...(beforeRename === undefined ? {} : { beforeRename }) });
  } catch (err) {
    if (!NO_SPACE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await rewriteInPlace(path, text, sync, err);
  }
}

async function rewriteInPlace(path: string, text: string, sync: boolean, cause: unknown): Promise<void> {
  let fh;
  try {
    fh = await open(path, REOPEN_RW);
  } catch {
    throw cause;
  }
  try {
    const old = (await fh.stat()).size;
    const buf = Buffer.from(text.padEnd(old, ' '));
    await fh.write(buf, 0, buf.length, 0);
    if (sync) await fh.datasync();
  } finally {
    await fh.close();
  }
}
