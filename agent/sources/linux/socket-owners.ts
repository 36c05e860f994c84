import { readdirSync, readlinkSync } from 'node:fs';
import type { ProcessRecord } from '../types.js';
import { parseSocketLink } from './proc-parsers.js';

/** How long an inode whose owner could not be found waits before another full walk. */
const RETRY_UNRESOLVED_MS = 60_000;

export interface OwnerStats {
  /** Processes whose fd table was read in the last resolve() call. */
  fdTablesRead: number;
  /** Whether the last resolve() had to walk beyond the new processes. */
  walked: boolean;
  /** fd tables that could not be read for lack of privileges, last call. */
  denied: number;
}

/**
 * Maps listening socket inodes to the pids holding them, incrementally: a steady-state tick reads
 * no fd table at all. New processes are scanned (they may have created or inherited a listener);
 * an inode still unknown is searched for among the other processes, newest and same-uid first,
 * once, then again only after RETRY_UNRESOLVED_MS.
 */
export class SocketOwners {
  private readonly owners = new Map<number, Set<number>>();
  private readonly lastWalk = new Map<number, number>();
  stats: OwnerStats = { fdTablesRead: 0, walked: false, denied: 0 };

  constructor(private readonly procRoot: string, private readonly now: () => number = Date.now) {}

  private socketInodes(pid: number): number[] | 'denied' | undefined {
    let fds: string[];
    try {
      fds = readdirSync(`${this.procRoot}/${pid}/fd`);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'denied' : undefined;
    }
    this.stats.fdTablesRead++;
    const out: number[] = [];
    for (const fd of fds) {
      try {
        const ino = parseSocketLink(readlinkSync(`${this.procRoot}/${pid}/fd/${fd}`));
        if (ino !== undefined) out.push(ino);
      } catch {
        // fd closed meanwhile
      }
    }
    return out;
  }

  private scan(pid: number, wanted: ReadonlyMap<number, unknown>): void {
    const inodes = this.socketInodes(pid);
    if (inodes === 'denied') {
      this.stats.denied++;
      return;
    }
    for (const ino of inodes ?? []) {
      if (!wanted.has(ino)) continue;
      let set = this.owners.get(ino);
      if (set === undefined) this.owners.set(ino, (set = new Set()));
      set.add(pid);
    }
  }

  /**
   * @param listening inode -> socket uid (when known) of every listening socket now
   * @param processes the live process table
   * @param newPids pids that appeared since the last call
   * @returns inode -> owner pids, oldest process first
   */
  resolve(
    listening: ReadonlyMap<number, number | undefined>,
    processes: ReadonlyMap<number, ProcessRecord>,
    newPids: readonly number[],
  ): Map<number, number[]> {
    this.stats = { fdTablesRead: 0, walked: false, denied: 0 };
    for (const [ino, pids] of this.owners) {
      if (!listening.has(ino)) {
        this.owners.delete(ino);
        continue;
      }
      for (const pid of pids) if (!processes.has(pid)) pids.delete(pid);
    }
    for (const ino of this.lastWalk.keys()) if (!listening.has(ino)) this.lastWalk.delete(ino);

    const scanned = new Set<number>();
    for (const pid of newPids) {
      this.scan(pid, listening);
      scanned.add(pid);
    }

    const now = this.now();
    const missing = new Map<number, number | undefined>();
    for (const [ino, uid] of listening) {
      if ((this.owners.get(ino)?.size ?? 0) > 0) continue;
      const last = this.lastWalk.get(ino);
      if (last !== undefined && now - last < RETRY_UNRESOLVED_MS) continue;
      missing.set(ino, uid);
    }
    if (missing.size > 0) this.walk(missing, processes, scanned, now);

    const result = new Map<number, number[]>();
    for (const ino of listening.keys()) {
      const pids = [...(this.owners.get(ino) ?? [])];
      pids.sort((a, b) => startOf(processes, a) - startOf(processes, b) || a - b);
      result.set(ino, pids);
    }
    return result;
  }

  private walk(
    missing: Map<number, number | undefined>,
    processes: ReadonlyMap<number, ProcessRecord>,
    scanned: Set<number>,
    now: number,
  ): void {
    this.stats.walked = true;
    const uids = new Set([...missing.values()].filter((u) => u !== undefined));
    const order = [...processes.values()]
      .filter((p) => !scanned.has(p.pid))
      .sort((a, b) => rank(b, uids) - rank(a, uids) || Date.parse(b.start) - Date.parse(a.start));
    const found = new Set<number>();
    for (const p of order) {
      this.scan(p.pid, missing);
      scanned.add(p.pid);
      for (const ino of missing.keys()) {
        if ((this.owners.get(ino)?.size ?? 0) > 0) found.add(ino);
      }
      if (found.size === missing.size) break;
    }
    // Holders other than the first found are almost always its descendants (pre-fork servers).
    const holders = new Set([...found].flatMap((ino) => [...(this.owners.get(ino) ?? [])]));
    for (const p of processes.values()) {
      if (!scanned.has(p.pid) && hasAncestorIn(p, holders, processes)) this.scan(p.pid, missing);
    }
    for (const ino of missing.keys()) this.lastWalk.set(ino, now);
  }
}

function startOf(processes: ReadonlyMap<number, ProcessRecord>, pid: number): number {
  const p = processes.get(pid);
  return p === undefined ? Number.MAX_SAFE_INTEGER : Date.parse(p.start);
}

function rank(p: ProcessRecord, uids: Set<number>): number {
  return p.uid !== undefined && uids.has(p.uid) ? 1 : 0;
}

function hasAncestorIn(p: ProcessRecord, set: Set<number>, processes: ReadonlyMap<number, ProcessRecord>): boolean {
  let cur: ProcessRecord | undefined = p;
  for (let depth = 0; cur !== undefined && depth < 64; depth++) {
    if (set.has(cur.ppid)) return true;
    cur = processes.get(cur.ppid);
  }
  return false;
}
