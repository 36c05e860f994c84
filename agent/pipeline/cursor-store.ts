import { open, readFile, rename, rm } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import { createExclusive, mkdirPrivate, REOPEN_RW, tempPath } from '../util/safe-fs.js';
import type { FaultHook } from './fault.js';

/** Where an output has got to: the next seq to deliver and a hint where its frame starts. */
export interface CursorPos {
  seq: number;
  /** firstSeq of the segment that holds `seq` (a hint; verified before use). */
  segment: number;
  offset: number;
}

export type CursorLoad =
  | { kind: 'ok'; pos: CursorPos }
  | { kind: 'missing' }
  | { kind: 'corrupt'; why: string };

function encode(pos: CursorPos): string {
  const body = JSON.stringify({ v: 1, seq: pos.seq, segment: pos.segment, offset: pos.offset });
  return `${body}\n${crc32(body).toString(16)}\n`;
}

export function decodeCursor(text: string): CursorLoad {
  const [body, sum] = text.split('\n');
  if (body === undefined || sum === undefined || crc32(body).toString(16) !== sum) return { kind: 'corrupt', why: 'checksum mismatch' };
  try {
    const v = JSON.parse(body) as Partial<CursorPos>;
    const ok = [v.seq, v.segment, v.offset].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
    return ok ? { kind: 'ok', pos: v as CursorPos } : { kind: 'corrupt', why: 'bad fields' };
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
    if (r.kind === 'ok') this.persisted = r.pos;
    return r;
  }

  /** The position known to be on disk (segments before it may be deleted). */
  get durable(): CursorPos | undefined {
    return this.persisted;
  }

  /** Asks for `pos` to be persisted; resolves once it (or a later position) is on disk. */
  save(pos: CursorPos): Promise<void> {
    if (this.wanted !== undefined && this.wanted.seq >= pos.seq) return this.writing ?? Promise.resolve();
    this.wanted = pos;
    this.writing ??= this.loop().finally(() => { this.writing = undefined; });
    return this.writing;
  }

  private async loop(): Promise<void> {
    while (this.wanted !== undefined && (this.persisted === undefined || this.wanted.seq > this.persisted.seq)) {
      const pos = this.wanted;
      await this.write(pos);
      this.persisted = pos;
      this.onPersisted(pos);
    }
  }

  private write(pos: CursorPos): Promise<void> {
    return writeAtomic(this.path, encode(pos), this.sync, () => this.fault?.('cursor.tmp'));
  }
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Replaces `path` atomically: tmp file, fsync, rename, fsync of the directory (fsyncs when `sync`).
 * The tmp file has a random name and is created exclusively (0600, never through a symlink).
 * On a full disk (ENOSPC, EDQUOT) the file is rewritten in place instead, padded to its old size,
 * so it needs no new blocks: a torn in-place write is caught by the reader's checks (cursor CRC,
 * head JSON) and costs duplicates, never loss.
 */
export async function writeAtomic(path: string, text: string, sync: boolean, beforeRename?: () => void): Promise<void> {
  const tmp = tempPath(path);
  try {
    const fh = await createExclusive(tmp);
    try {
      await fh.writeFile(text);
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    if (!NO_SPACE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await rewriteInPlace(path, text, sync, err);
    return;
  }
  beforeRename?.();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (sync) await syncDir(dirname(path));
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

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await fh.close();
  }
}
