import { readdirSync, readlinkSync } from 'node:fs';
import type { ProcessRecord } from '../types.js';
import type { ListedProcess } from './process-reader.js';
import { parseSocketLink } from './proc-parsers.js';
import { loadSockDiag } from './sock-diag.js';
import type { HolderScan, SockDiag } from './sock-diag.js';

/** Walks the fd tables of `pids`; reports who holds which inode of `wanted`. */
export type FdWalker = (pids: readonly number[], wanted: ReadonlyMap<number, unknown>) => HolderScan;

/** The portable walker: readdir + readlink from JS. */
export function jsFdWalker(procRoot: string): FdWalker {
  return (pids, wanted) => {
    const scan: HolderScan = { pairs: [], denied: [], read: 0 };
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`${procRoot}/${pid}/fd`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EACCES') scan.denied.push(pid);
        continue;
      }
      scan.read++;
      for (const fd of fds) {
        try {
          const ino = parseSocketLink(readlinkSync(`${procRoot}/${pid}/fd/${fd}`));
          if (ino !== undefined && wanted.has(ino)) scan.pairs.push([pid, ino]);
        } catch {
          // fd closed meanwhile
        }
      }
    }
    return scan;
  };
}

/**
 * The same walk in C through the sock_diag addon (about half the CPU of the JS walk: no string per
 * fd). Falls back to the JS walk for a call the addon cannot serve.
 */
export function nativeFdWalker(procRoot: string, diag: SockDiag): FdWalker {
  const js = jsFdWalker(procRoot);
  const sorted = new WeakMap<ReadonlyMap<number, unknown>, Uint32Array | null>();
  return (pids, wanted) => {
    let inodes = sorted.get(wanted);
    if (inodes === undefined) {
      const keys = [...wanted.keys()];
      inodes = keys.every((k) => Number.isInteger(k) && k > 0 && k <= 0xffff_ffff) ? Uint32Array.from(keys).sort() : null;
      sorted.set(wanted, inodes);
    }
    const scan = inodes === null ? undefined : diag.holders(procRoot, Uint32Array.from(pids), inodes);
    return scan ?? js(pids, wanted);
  };
}

/** The native walker when the addon has it, else the JS one. */
export function defaultFdWalker(procRoot: string): FdWalker {
  const diag = loadSockDiag();
  return diag?.walksFds === true ? nativeFdWalker(procRoot, diag) : jsFdWalker(procRoot);
}

const NONE: ReadonlyMap<number, ListedProcess> = new Map();

/** Processes whose fd tables are read per native call during a search (the search stops early). */
const WALK_CHUNK = 32;

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
 * no fd table at all. New processes are scanned (scanNew);
 * an inode still unknown is searched for among the other processes, newest and same-uid first,
 * once, then again only after RETRY_UNRESOLVED_MS.
 */
export class SocketOwners {
  private readonly owners = new Map<number, Set<number>>();
  private readonly lastWalk = new Map<number, number>();
  /** Every pid in the last resolve()'s answer. */
  private holders = new Set<number>();
  stats: OwnerStats = { fdTablesRead: 0, walked: false, denied: 0 };

  constructor(
    procRoot: string,
    private readonly now: () => number = Date.now,
    private readonly walker: FdWalker = defaultFdWalker(procRoot),
  ) {}

  /** Reads the fd tables of `pids`; returns how many (pid, inode) holdings of `wanted` it found. */
  private scan(pids: readonly number[], wanted: ReadonlyMap<number, unknown>): number {
    if (pids.length === 0) return 0;
    const r = this.walker(pids, wanted);
    this.stats.fdTablesRead += r.read;
    this.stats.denied += r.denied.length;
    for (let i = 0; i < r.pairs.length; i++) {
      const [pid, ino] = r.pairs[i] ?? [0, 0];
      let set = this.owners.get(ino);
      if (set === undefined) this.owners.set(ino, (set = new Set()));
      set.add(pid);
    }
    return r.pairs.length;
  }

  /**
   * Reads the fd tables of the processes new since the last call (they may have created or
   * inherited a listener: a forked worker); a new process on a pid that held a socket drops that
   * holding first. Returns whether any of them holds a socket of `listening`. Call it every poll
   * with new processes, before affectedBy() or resolve().
   */
  scanNew(listening: ReadonlyMap<number, unknown>, newPids: readonly number[]): boolean {
    this.stats = { fdTablesRead: 0, walked: false, denied: 0 };
    if (newPids.some((pid) => this.holders.has(pid))) {
      for (const pids of this.owners.values()) for (const pid of newPids) pids.delete(pid);
    }
    return this.scan(newPids, listening) > 0;
  }

  /**
   * For a poll whose listening sockets are the ones resolve() was last given: whether resolve()
   * could now answer differently. It could when a new process holds one of them (scanNew()'s
   * answer, `newHolders`), a holder has exited or its pid names a new process, or a socket without
   * an owner is due for another search.
   */
  affectedBy(newHolders: boolean, newPids: readonly number[], gone: readonly number[]): boolean {
    if (newHolders || gone.some((pid) => this.holders.has(pid)) || newPids.some((pid) => this.holders.has(pid))) return true;
    const now = this.now();
    for (const [ino, last] of this.lastWalk) {
      if (now - last >= RETRY_UNRESOLVED_MS && (this.owners.get(ino)?.size ?? 0) === 0) return true;
    }
    return false;
  }

  /** The pids holding a socket that `wanted` says yes to (after scanNew(): the new holders among them). */
  holdersWhere(wanted: (pid: number) => boolean): number[] {
    const found = new Set<number>();
    this.owners.forEach((pids) => { pids.forEach((pid) => { if (wanted(pid)) found.add(pid); }); });
    return [...found];
  }

  /**
   * @param listening inode -> socket uid (when known) of every listening socket now
   * @param processes the live process table
   * @param newPids pids that appeared since the last call, already read by scanNew()
   * @param deferred live processes whose records are not in the table yet (the first scan's,
   *   process-details.ts): holders like the others, searched after them
   * @returns inode -> owner pids, oldest process first
   */
  resolve(
    listening: ReadonlyMap<number, number | undefined>,
    processes: ReadonlyMap<number, ProcessRecord>,
    newPids: readonly number[],
    deferred: ReadonlyMap<number, ListedProcess> = NONE,
  ): Map<number, number[]> {
    const recordOf = (pid: number): ListedProcess | undefined => processes.get(pid) ?? deferred.get(pid);
    this.owners.forEach((pids, ino) => {
      if (!listening.has(ino)) {
        this.owners.delete(ino);
        return;
      }
      pids.forEach((pid) => { if (!processes.has(pid) && !deferred.has(pid)) pids.delete(pid); });
    });
    for (const ino of this.lastWalk.keys()) if (!listening.has(ino)) this.lastWalk.delete(ino);

    const scanned = new Set<number>(newPids);

    const now = this.now();
    const missing = new Map<number, number | undefined>();
    listening.forEach((uid, ino) => {
      if ((this.owners.get(ino)?.size ?? 0) > 0) return;
      const last = this.lastWalk.get(ino);
      if (last !== undefined && now - last < RETRY_UNRESOLVED_MS) return;
      missing.set(ino, uid);
    });
    if (missing.size > 0) this.walk(missing, processes, scanned, now, deferred, recordOf);

    const result = new Map<number, number[]>();
    const holders = new Set<number>();
    // forEach, not for-of: the first scan runs without the optimizing compiler, where each for-of
    // step over 2,000 sockets allocates an iterator result.
    listening.forEach((_uid, ino) => {
      const set = this.owners.get(ino);
      let pids: number[];
      if (set === undefined || set.size === 0) pids = [];
      else if (set.size === 1) pids = [set.values().next().value ?? 0];
      else pids = [...set].sort((a, b) => startOf(recordOf(a)) - startOf(recordOf(b)) || a - b);
      result.set(ino, pids);
      for (let i = 0; i < pids.length; i++) holders.add(pids[i] ?? 0);
    });
    this.holders = holders;
    return result;
  }

  private walk(
    missing: Map<number, number | undefined>,
    processes: ReadonlyMap<number, ProcessRecord>,
    scanned: Set<number>,
    now: number,
    deferred: ReadonlyMap<number, ListedProcess>,
    recordOf: (pid: number) => ListedProcess | undefined,
  ): void {
    this.stats.walked = true;
    const uids = new Set([...missing.values()].filter((u) => u !== undefined));
    const order = [...processes.values()]
      .filter((p) => !scanned.has(p.pid))
      .sort((a, b) => rank(b, uids) - rank(a, uids) || Date.parse(b.start) - Date.parse(a.start))
      .map((p) => p.pid);
    // Processes without a record yet ran before the agent started: searched last.
    for (const pid of deferred.keys()) if (!scanned.has(pid)) order.push(pid);
    const found = new Set<number>();
    for (let i = 0; i < order.length && found.size < missing.size; i += WALK_CHUNK) {
      const chunk = order.slice(i, i + WALK_CHUNK);
      this.scan(chunk, missing);
      for (const pid of chunk) scanned.add(pid);
      for (const ino of missing.keys()) {
        if ((this.owners.get(ino)?.size ?? 0) > 0) found.add(ino);
      }
    }
    // Holders other than the first found are almost always its descendants (pre-fork servers).
    const holders = new Set([...found].flatMap((ino) => [...(this.owners.get(ino) ?? [])]));
    const descendants: number[] = [];
    const visit = (p: ListedProcess) => {
      if (!scanned.has(p.pid) && hasAncestorIn(p, holders, recordOf)) descendants.push(p.pid);
    };
    processes.forEach(visit);
    deferred.forEach(visit);
    this.scan(descendants, missing);
    for (const ino of missing.keys()) this.lastWalk.set(ino, now);
  }
}

/** Start ticks since boot (Linux start keys are clock ticks), for ordering holders oldest first. */
function startOf(p: ListedProcess | undefined): number {
  const ticks = p === undefined ? NaN : Number(p.startKey);
  return Number.isFinite(ticks) ? ticks : Number.MAX_SAFE_INTEGER;
}

function rank(p: ProcessRecord, uids: Set<number>): number {
  return p.uid !== undefined && uids.has(p.uid) ? 1 : 0;
}

function hasAncestorIn(p: ListedProcess, set: Set<number>, recordOf: (pid: number) => ListedProcess | undefined): boolean {
  let cur: ListedProcess | undefined = p;
  for (let depth = 0; cur !== undefined && depth < 64; depth++) {
    if (set.has(cur.ppid)) return true;
    cur = recordOf(cur.ppid);
  }
  return false;
}
