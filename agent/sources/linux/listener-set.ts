/**
 * Whether a poll's listener records are the last poll's: the same sockets in the same order, held
 * by the same processes. A holder is a pid and its start: a pid that names another process now (a
 * pre-fork server's worker recycled onto the pid of the one before it) is a different owner.
 */
import type { ListenerRecord } from '../types.js';

/** A process's start key by pid, or undefined when it is not in the table. */
export type StartKeyOf = (pid: number) => string | undefined;

/** The start key of every owner of `rows`, as the table knows it now ('' for an unknown pid). */
export function ownerStarts(rows: readonly ListenerRecord[], startKeyOf: StartKeyOf): Map<number, string> {
  const starts = new Map<number, string>();
  // Indexed loops: this runs on the first scan too, without the optimizing compiler (runtime/v8-flags.ts).
  for (let i = 0; i < rows.length; i++) {
    const owners = rows[i]?.owners ?? [];
    for (let j = 0; j < owners.length; j++) {
      const pid = owners[j] ?? 0;
      if (!starts.has(pid)) starts.set(pid, startKeyOf(pid) ?? '');
    }
  }
  return starts;
}

/** Whether `rows` match `last` socket by socket, owner by owner, each owner still the process `lastStarts` recorded. */
export function sameListenerSet(rows: readonly ListenerRecord[], last: readonly ListenerRecord[], lastStarts: ReadonlyMap<number, string>, startKeyOf: StartKeyOf): boolean {
  if (rows.length !== last.length) return false;
  for (let i = 0; i < rows.length; i++) {
    const a = rows[i];
    const b = last[i];
    if (a === undefined || b === undefined || a.inode !== b.inode || a.netns !== b.netns || a.owners.length !== b.owners.length) return false;
    for (let j = 0; j < a.owners.length; j++) {
      const pid = a.owners[j] ?? 0;
      if (pid !== b.owners[j] || (startKeyOf(pid) ?? '') !== lastStarts.get(pid)) return false;
    }
  }
  return true;
}
