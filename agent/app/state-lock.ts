import { readFileSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseStat } from '../sources/linux/proc-parsers.js';
import { PortwardenError, errorMessage } from '../util/errors.js';

/** The lock file's name under state_dir. */
export const LOCK_FILE = 'agent.lock';

interface Holder { pid: number; start: string }

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or undefined if it is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.startTicks;
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
    const m = /^portwarden:(\d+):(\d*)$/.exec(readlinkSync(path));
    return m === null ? undefined : { pid: Number(m[1]), start: m[2] ?? '' };
  } catch {
    return undefined;
  }
}

/** The pid of the live agent holding `dir`'s lock, or undefined when none does (no lock, or a stale one). */
export function lockHolder(dir: string): number | undefined {
  const h = readHolder(join(dir, LOCK_FILE));
  return h !== undefined && alive(h) ? h.pid : undefined;
}

/**
 * One agent per state_dir: `state_dir/agent.lock` is a symbolic link created exclusively, whose
 * target (`portwarden:<pid>:<start time>`) names the holder; it needs no data block, so it is taken
 * on a full disk too. A lock whose holder is gone (crash, SIGKILL) or whose pid now belongs to
 * another process (start time differs) is stale and taken over. Returns the release. Throws
 * STATE_DIR_LOCKED naming the directory and the holder's pid.
 */
export function lockStateDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, start: startTimeOf(process.pid) ?? '' };
  const target = `portwarden:${me.pid}:${me.start}`;
  for (let attempt = 0; ; attempt++) {
    try {
      symlinkSync(target, path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) {
        throw new PortwardenError('STATE_DIR_LOCKED', `cannot lock state_dir ${dir} (${path}: ${errorMessage(err)})`, { cause: err });
      }
      const holder = readHolder(path);
      if (holder !== undefined && holder.pid !== process.pid && alive(holder)) {
        throw new PortwardenError('STATE_DIR_LOCKED', `state_dir ${dir} is in use by another portwarden agent (pid ${holder.pid}, lock file ${path}); one agent per state_dir`);
      }
      // Stale, or not a lock at all (a file someone put there): take it over.
      try { unlinkSync(path); } catch { /* another agent took it over first; retry */ }
    }
  }
  return () => {
    try {
      if (readlinkSync(path) === target) unlinkSync(path);
    } catch { /* already gone */ }
  };
}
