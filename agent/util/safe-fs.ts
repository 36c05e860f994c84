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
import { chmod, mkdir, open } from 'node:fs/promises';
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

/** Creates `path`, which must not exist (not even as a symlink), with `mode` whatever the umask. */
export async function createExclusive(path: string, mode = FILE_MODE): Promise<FileHandle> {
  const fh = await open(path, CREATE_EXCL, mode);
  try {
    await fh.chmod(mode);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** createExclusive, synchronously: the fd. */
export function createExclusiveSync(path: string, mode = FILE_MODE): number {
  const fd = openSync(path, CREATE_EXCL, mode);
  try {
    fchmodSync(fd, mode);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
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

/**
 * Opens `path` for appending, creating it with `mode`. Refuses (code ELOOP from the OS, or EUNSAFE)
 * a symlink, anything that is not a regular file, a file with more than one hard link, and a file
 * owned by another user than the agent's or root (planted in a shared directory). A file
 * of ours with a wider mode (an older version's 0644) is narrowed to `mode`.
 */
export async function openAppend(path: string, mode = FILE_MODE): Promise<FileHandle> {
  const fh = await open(path, APPEND, mode);
  try {
    const st = await fh.stat();
    const odd = refuseOdd(path, st);
    if (odd !== undefined) throw unsafe(odd);
    if ((st.mode & 0o777) !== mode && st.uid === process.geteuid?.()) await fh.chmod(mode);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** openAppend, synchronously: the fd. */
export function openAppendSync(path: string, mode = FILE_MODE): number {
  const fd = openSync(path, APPEND, mode);
  try {
    const st = fstatSync(fd);
    const odd = refuseOdd(path, st);
    if (odd !== undefined) throw unsafe(odd);
    if ((st.mode & 0o777) !== mode && st.uid === process.geteuid?.()) fchmodSync(fd, mode);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
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

/**
 * Reads a regular file of at most `maxBytes` (symlinks to one are fine). A directory, a device
 * (`/dev/zero`), a FIFO or a socket is refused without reading it (O_NONBLOCK: opening a FIFO does
 * not wait for a writer), and so is a file over the cap, even one that grows while it is read.
 * Throws an Error whose message says which of these it was, or the OS's error.
 */
export function readRegularFileSync(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): Buffer {
  const fd = openSync(path, constants.O_RDONLY | NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error(`${path} is a directory, not a file`);
    if (!st.isFile()) throw new Error(`${path} is not a regular file (a device, FIFO or socket)`);
    const cap = maxBytes % (1024 * 1024) === 0 ? `${maxBytes / 1024 / 1024} MiB` : `${maxBytes} bytes`;
    const tooBig = (): Error => new Error(`${path} is larger than ${cap}, the most such a file may hold`);
    if (st.size > maxBytes) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooBig();
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** readRegularFileSync without blocking the event loop (for files read while the agent runs). */
export async function readRegularFile(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | NONBLOCK);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new Error(`${path} is a directory, not a file`);
    if (!st.isFile()) throw new Error(`${path} is not a regular file (a device, FIFO or socket)`);
    if (st.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes, the most such a file may hold`);
    const buf = await fh.readFile();
    if (buf.length > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes, the most such a file may hold`);
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `file` atomically: a private directory, a temporary file beside it (random name,
 * exclusive, 0600), fsync, rename; with `syncDir` the directory too, so the rename survives a power
 * loss. A crash leaves the old file or the new one, never half of one; a failed write leaves no
 * temporary file.
 */
export function writeAtomicSync(file: string, data: string | Uint8Array, syncDir = false): void {
  mkdirPrivateSync(dirname(file));
  const tmp = tempPath(file);
  const fd = createExclusiveSync(tmp);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (err) {
    try { closeSync(fd); } catch { /* closed already */ }
    rmSync(tmp, { force: true });
    throw err;
  }
  if (!syncDir) return;
  try {
    const dir = openSync(dirname(file), 'r');
    try { fsyncSync(dir); } finally { closeSync(dir); }
  } catch {
    // Windows cannot open a directory; its rename is durable enough there.
  }
}
