/**
 * Creating the agent's files so that a local user cannot redirect them: nothing follows a symbolic
 * link in the last path component (O_NOFOLLOW), temporary files get unpredictable names and are
 * created exclusively (O_EXCL), an appended file must be a regular file with one link, and modes are
 * set explicitly (fchmod), so the umask cannot widen them: directories 0700, files 0600.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** 0 where the OS has no such flag (Windows): there are no symlinks a user can plant there anyway. */
const NOFOLLOW = (constants as Partial<typeof constants>).O_NOFOLLOW ?? 0;
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

const CREATE_EXCL = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
// O_NONBLOCK: a FIFO planted at the path fails (ENXIO) instead of hanging the open; no effect on files.
const NONBLOCK = (constants as Partial<typeof constants>).O_NONBLOCK ?? 0;
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW | NONBLOCK;
/** Flags for reopening an existing file of the agent for reading and writing. */
export const REOPEN_RW = constants.O_RDWR | NOFOLLOW;

const TMP_RE = /\.[0-9a-f]{16}\.tmp$/;

/** A fresh temporary name beside `path` (`<path>.<16 hex>.tmp`), never guessable in advance. */
export function tempPath(path: string): string {
  return `${path}.${randomBytes(8).toString('hex')}.tmp`;
}

/** Removes temporary files (tempPath) a crash left in `dir`; only call while no write can be in flight. */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (TMP_RE.test(n)) rmSync(join(dir, n), { force: true });
}

/** A file just opened, once `settle` (a check, a chmod) succeeded on it; closed when that throws. */
async function settled(fh: FileHandle, settle: (fh: FileHandle) => Promise<void>): Promise<FileHandle> {
  try {
    await settle(fh);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** settled, synchronously: the fd. */
function settledSync(fd: number, settle: (fd: number) => void): number {
  try {
    settle(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Creates `path`, which must not exist (not even as a symlink), with `mode` whatever the umask. */
export async function createExclusive(path: string, mode = FILE_MODE): Promise<FileHandle> {
  return settled(await open(path, CREATE_EXCL, mode), (fh) => fh.chmod(mode));
}

/** createExclusive, synchronously: the fd. */
export function createExclusiveSync(path: string, mode = FILE_MODE): number {
  return settledSync(openSync(path, CREATE_EXCL, mode), (fd) => { fchmodSync(fd, mode); });
}

function refuseOdd(path: string, st: { isFile(): boolean; nlink: number; uid: number }): string | undefined {
  if (!st.isFile()) return `${path}: not a regular file`;
  if (st.nlink > 1) return `${path}: ${st.nlink} hard links (a link to another file?)`;
  const me = process.geteuid?.();
  if (me !== undefined && st.uid !== me && st.uid !== 0) return `${path}: owned by uid ${st.uid}, neither the agent's user (${me}) nor root`;
  return undefined;
}

/** An error with `code` like the fs module's, for a file that exists but must not be written. */
function unsafe(message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`refusing to write ${message}`), { code: 'EUNSAFE' });
}

/** openAppend's decisions on the file it opened: throws EUNSAFE for an odd one; true when its mode must be narrowed. */
function mustNarrow(path: string, st: { isFile(): boolean; nlink: number; uid: number; mode: number }, mode: number): boolean {
  const odd = refuseOdd(path, st);
  if (odd !== undefined) throw unsafe(odd);
  return (st.mode & 0o777) !== mode && st.uid === process.geteuid?.();
}

/**
 * Opens `path` for appending, creating it with `mode`. Refuses (code ELOOP from the OS, or EUNSAFE)
 * a symlink, anything that is not a regular file, a file with more than one hard link, and a file
 * owned by another user than the agent's or root (planted in a shared directory). A file
 * of ours with a wider mode (an older version's 0644) is narrowed to `mode`.
 */
export async function openAppend(path: string, mode = FILE_MODE): Promise<FileHandle> {
  return settled(await open(path, APPEND, mode), async (fh) => { if (mustNarrow(path, await fh.stat(), mode)) await fh.chmod(mode); });
}

/** openAppend, synchronously: the fd. */
export function openAppendSync(path: string, mode = FILE_MODE): number {
  return settledSync(openSync(path, APPEND, mode), (fd) => { if (mustNarrow(path, fstatSync(fd), mode)) fchmodSync(fd, mode); });
}

/** The directories mkdir -p created: from `first` (mkdir's answer) down to `dir`. */
function created(first: string | undefined, dir: string): string[] {
  if (first === undefined) return [];
  const out = [first];
  const rest = relative(first, dir);
  if (rest === '') return out;
  let cur = first;
  for (const part of rest.split(sep)) out.push(cur = join(cur, part));
  return out;
}

/** mkdir -p whose new directories are 0700 whatever the umask; existing ones are left as they are. */
export async function mkdirPrivate(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  for (const d of created(first, dir)) await chmod(d, DIR_MODE);
}

/** mkdirPrivate, synchronously. */
export function mkdirPrivateSync(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  for (const d of created(first, dir)) chmodSync(d, DIR_MODE);
}

/** The most a config, rule or PEM file may hold. */
export const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;

const READ_CHUNK = 64 * 1024;

/**
 * readRegularFile's decisions, shared by its sync and async shells (which only do the I/O): what
 * the opened file is, and the cap, checked on the size and again on every chunk read.
 */
class CappedRead {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(private readonly path: string, private readonly maxBytes: number, st: { isDirectory(): boolean; isFile(): boolean; size: number }) {
    if (st.isDirectory()) throw new Error(`${path} is a directory, not a file`);
    if (!st.isFile()) throw new Error(`${path} is not a regular file (a device, FIFO or socket)`);
    if (st.size > maxBytes) throw this.tooBig(st.size, '');
  }

  /** Takes the `n` bytes just read into `chunk`; false at the end of the file. */
  add(chunk: Buffer, n: number): boolean {
    if (n === 0) return false;
    this.total += n;
    if (this.total > this.maxBytes) throw this.tooBig(this.total, 'at least ');
    this.chunks.push(chunk.subarray(0, n));
    return true;
  }

  get result(): Buffer { return Buffer.concat(this.chunks, this.total); }

  /** Names the file, its size (`at least` for one that grew while it was read) and the cap. */
  private tooBig(size: number, atLeast: string): Error {
    const cap = this.maxBytes % (1024 * 1024) === 0 ? `${this.maxBytes / 1024 / 1024} MiB`
      : this.maxBytes % 1024 === 0 ? `${this.maxBytes / 1024} KiB` : `${this.maxBytes} bytes`;
    return new Error(`${this.path} is ${atLeast}${size.toLocaleString('en-US')} bytes, larger than ${cap}, the most such a file may hold`);
  }
}

/**
 * Reads a regular file of at most `maxBytes` (symlinks to one are fine). A directory, a device
 * (`/dev/zero`), a FIFO or a socket is refused without reading it (O_NONBLOCK: opening a FIFO does
 * not wait for a writer), and so is a file over the cap, even one that grows while it is read.
 * Throws an Error whose message says which of these it was, or the OS's error.
 */
export function readRegularFileSync(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): Buffer {
  const fd = openSync(path, constants.O_RDONLY | NONBLOCK);
  try {
    const r = new CappedRead(path, maxBytes, fstatSync(fd));
    for (let c = Buffer.allocUnsafe(READ_CHUNK); r.add(c, readSync(fd, c, 0, c.length, null)); c = Buffer.allocUnsafe(READ_CHUNK));
    return r.result;
  } finally {
    closeSync(fd);
  }
}

/** readRegularFileSync without blocking the event loop (for files read while the agent runs). */
export async function readRegularFile(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | NONBLOCK);
  try {
    const r = new CappedRead(path, maxBytes, await fh.stat());
    for (let c = Buffer.allocUnsafe(READ_CHUNK); r.add(c, (await fh.read(c, 0, c.length, null)).bytesRead); c = Buffer.allocUnsafe(READ_CHUNK));
    return r.result;
  } finally {
    await fh.close();
  }
}

/** How writeAtomic replaces a file. */
export interface AtomicWrite {
  /** fsync the file before the rename (default true); false only where durability is configured off. */
  sync?: boolean;
  /** fsync the directory after the rename, so the rename survives a power loss. */
  syncDir?: boolean;
  /** Runs between the write and the rename (test-only fault injection); a throw fails the write. */
  beforeRename?: () => void;
}

/**
 * Replaces `file` atomically: a private directory, a temporary file beside it (random name,
 * exclusive, 0600), fsync, rename; with `syncDir` the directory too, so the rename survives a power
 * loss. A crash leaves the old file or the new one, never half of one; a failed write leaves no
 * temporary file.
 */
export async function writeAtomic(file: string, data: string | Uint8Array, o: AtomicWrite = {}): Promise<void> {
  await mkdirPrivate(dirname(file));
  const tmp = tempPath(file);
  const fh = await createExclusive(tmp);
  try {
    try {
      await fh.writeFile(data);
      if (o.sync !== false) await fh.datasync();
    } finally {
      await fh.close();
    }
    o.beforeRename?.();
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (o.syncDir === true) await syncDir(dirname(file));
}

/** writeAtomic, synchronously, always fsyncing the file (not its directory). */
export function writeAtomicSync(file: string, data: string | Uint8Array): void {
  mkdirPrivateSync(dirname(file));
  const tmp = tempPath(file);
  const fd = createExclusiveSync(tmp);
  try {
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** fsyncs a directory, so a rename or a new file in it survives a power loss. */
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
