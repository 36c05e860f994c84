import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Fills the filesystem holding `path` until ENOSPC, a page at a time; with `toLastByte` the rest
 * below a page too, a byte at a time into `<path>.tail`. Returns the bytes written.
 */
export function fill(path: string, toLastByte = false): number {
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(4096, 1);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  if (!toLastByte) return n;
  const tail = openSync(`${path}.tail`, 'a');
  try { for (;;) n += writeSync(tail, Buffer.alloc(1, 1)); } catch { /* full */ } finally { closeSync(tail); }
  return n;
}

/** Unmounts `dir` lazily; nothing if it is not mounted. */
export function unmount(dir: string): void {
  try { execFileSync('umount', ['-l', dir]); } catch { /* not mounted */ }
}

/** Mounts a tmpfs of `size` (`1m`) at `dir`, created if needed (needs root); `mode` (`0700`) for its root. Unmount it with unmount(). */
export function mountTmpfs(dir: string, size: string, mode?: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', mode === undefined ? `size=${size}` : `size=${size},mode=${mode}`, 'tmpfs', dir]);
}

/** Mounts a fresh 32 MiB ext4 image `img` on a loop device at `dir`, created if needed (needs root). Unmount it with unmount(). */
export function mountExt4(img: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('truncate', ['-s', '32M', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', img]);
  execFileSync('mount', ['-o', 'loop', img, dir]);
}

/** EXT4_IOC_SHUTDOWN (NOLOGFLUSH) on the ext4 mounted at `dir`: from now on every write and open under it fails with EIO. */
export function shutdownExt4(dir: string): void {
  execFileSync('python3', ['-c', `import fcntl,os,struct\nfd=os.open(${JSON.stringify(dir)},os.O_RDONLY)\nfcntl.ioctl(fd,0x8004587D,struct.pack('I',2))`]);
}

/** The bytes in the spool segments (`*.seg`) of the spool directory `spool`. */
export function segmentBytes(spool: string): number {
  return readdirSync(spool).filter((n) => n.endsWith('.seg')).reduce((n, f) => n + statSync(join(spool, f)).size, 0);
}
