import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PortwardenError, errorMessage } from '../util/errors.js';

/** The lock file's name under state_dir. */
export const LOCK_FILE = 'agent.lock';

interface Holder { pid: number; start: string }

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or undefined if it is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(h: Holder): boolean {
  if (process.platform === 'linux') return startTimeOf(h.pid) === h.start;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof v.pid === 'number' && typeof v.start === 'string' ? { pid: v.pid, start: v.start } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One agent per state_dir: `state_dir/agent.lock` is created exclusively (O_EXCL, O_NOFOLLOW) with
 * this process's pid and start time. A lock whose holder is gone (crash, SIGKILL) or whose pid now
 * belongs to another process (start time differs) is stale and taken over. Returns the release.
 * Throws STATE_DIR_LOCKED naming the directory and the holder's pid.
 */
export function lockStateDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, start: startTimeOf(process.pid) ?? '' };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) {
        throw new PortwardenError('STATE_DIR_LOCKED', `cannot lock state_dir ${dir} (${path}: ${errorMessage(err)})`, { cause: err });
      }
      let holder = readHolder(path);
      if (holder === undefined) {
        // Maybe a holder between creating and writing it: look again shortly.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        holder = readHolder(path);
      }
      if (holder !== undefined && holder.pid !== process.pid && alive(holder)) {
        throw new PortwardenError('STATE_DIR_LOCKED', `state_dir ${dir} is in use by another portwarden agent (pid ${holder.pid}, lock file ${path}); one agent per state_dir`);
      }
      // Stale (or half-written by a holder that died at once): take it over.
      try { unlinkSync(path); } catch { /* another agent took it over first; retry */ }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    return () => {
      if (readHolder(path)?.pid === me.pid) {
        try { unlinkSync(path); } catch { /* already gone */ }
      }
    };
  }
}
