import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';

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

/** Mounts a tmpfs of `size` (`1m`) at `dir`, created if needed (needs root). Unmount it with unmount(). */
export function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
}
