import type { ProcessRecord } from '../sources/types.js';
import { entityId } from './entity-id.js';

/** Longest ancestry kept in documents (process.Ext.ancestry). */
export const MAX_ANCESTRY = 32;
/**
 * Most exited processes kept, whatever their age: a host that starts hundreds of short processes a
 * second (a build server, an exec storm the real-time source reports one by one) must not grow the
 * table for 15 minutes. Children keep their parents through their own nodes (captured at fork or
 * first sight), so forgetting an exited process early only costs a poll-only child its parent.
 */
export const MAX_EXITED = 20_000;

/** A process as the lineage knows it, alive or recently exited. */
export interface ProcessNode {
  readonly key: string;
  readonly record: ProcessRecord;
  readonly entityId: string;
  /** The parent as it was when this process was first seen; undefined when unknown. */
  readonly parent: ProcessNode | undefined;
  exitedAt: number | undefined;
}

export interface TableOptions {
  hostId: string;
  bootId: string;
  /** How long exited processes stay resolvable (>= 10 minutes). */
  retentionMs?: number;
  /** Most exited processes kept (MAX_EXITED); lower values are for tests. */
  maxExited?: number;
}

const keyOf = (pid: number, startKey: string) => `${pid}:${startKey}`;

/**
 * The process table behind lineage. Keyed by (pid, start key), so PID reuse never links the wrong
 * parent: a parent is accepted only if it started no later than the child. Exited processes are
 * kept for `retentionMs` because parents exit before their children are reported.
 */
export class ProcessTable {
  private readonly byKey = new Map<string, ProcessNode>();
  private readonly live = new Map<number, ProcessNode>();
  private readonly chains = new WeakMap<ProcessNode, readonly ProcessNode[]>();
  private readonly retentionMs: number;
  /** Exited nodes by exit time, from `exitedHead` on: prune() reads only the expired ones. */
  private exited: ProcessNode[] = [];
  private exitedHead = 0;

  constructor(private readonly opts: TableOptions) {
    this.retentionMs = Math.max(opts.retentionMs ?? 15 * 60_000, 10 * 60_000);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The live process with this pid. */
  get(pid: number): ProcessNode | undefined {
    return this.live.get(pid);
  }

  /** A process by entity-independent key, alive or exited. */
  find(pid: number, startKey: string): ProcessNode | undefined {
    return this.byKey.get(keyOf(pid, startKey));
  }

  liveNodes(): IterableIterator<ProcessNode> {
    return this.live.values();
  }

  /**
   * Records a process seen alive. Returns the node and whether it is new (a start) or a changed
   * image of the same process (an exec: same pid and start, new executable or command line).
   */
  upsert(rec: ProcessRecord): { node: ProcessNode; change: 'new' | 'exec' | 'same' } {
    const key = keyOf(rec.pid, rec.startKey);
    const prev = this.byKey.get(key);
    if (prev !== undefined) {
      if (prev.record === rec) return { node: prev, change: 'same' };
      // A light record completed by the source is the same image, not an exec; so is a record made
      // from a kernel event that a read of /proc completes (the kernel reports every exec itself).
      const completes = prev.record.detailsPending === true || (prev.record.realtime === true && rec.realtime !== true);
      const exec = !completes
        && (prev.record.executable !== rec.executable || prev.record.commandLine !== rec.commandLine || prev.record.name !== rec.name);
      const node: ProcessNode = { ...prev, record: rec };
      this.byKey.set(key, node);
      this.live.set(rec.pid, node);
      return { node, change: exec ? 'exec' : 'same' };
    }
    const older = this.live.get(rec.pid);
    if (older !== undefined && older.exitedAt === undefined) this.markExited(older, Date.now());
    const node: ProcessNode = {
      key,
      record: rec,
      entityId: entityId(this.opts.hostId, this.opts.bootId, rec.pid, rec.startKey),
      parent: this.parentOf(rec),
      exitedAt: undefined,
    };
    this.byKey.set(key, node);
    this.live.set(rec.pid, node);
    return { node, change: 'new' };
  }

  private parentOf(rec: ProcessRecord): ProcessNode | undefined {
    if (rec.ppid <= 0 || rec.ppid === rec.pid) return undefined;
    const cand = this.live.get(rec.ppid);
    if (cand === undefined) return undefined;
    return Date.parse(cand.record.start) <= Date.parse(rec.start) + 999 ? cand : undefined;
  }

  /** Marks a live pid as exited; returns its node. */
  exit(pid: number, at: number): ProcessNode | undefined {
    const node = this.live.get(pid);
    if (node === undefined) return undefined;
    this.markExited(node, at);
    this.live.delete(pid);
    return node;
  }

  private markExited(node: ProcessNode, at: number): void {
    node.exitedAt = at;
    // In exit order, which is time order unless the wall clock stepped back: then by time, so that
    // the exits before the step do not hold back the pruning of the ones after it.
    const queue = this.exited;
    let i = queue.length;
    while (i > this.exitedHead && (queue[i - 1]?.exitedAt ?? 0) > at) i--;
    if (i === queue.length) queue.push(node);
    else queue.splice(i, 0, node);
  }

  /**
   * Ancestors, parent first, at most MAX_ANCESTRY, stopping at a cycle. A node's chain is fixed
   * when the node is made (parents are captured, and a changed record makes a new node), so it is
   * walked once per node: a pre-fork server's 100 sockets share one array. Never modify it.
   */
  ancestors(node: ProcessNode): readonly ProcessNode[] {
    let chain = this.chains.get(node);
    if (chain === undefined) {
      chain = Object.freeze(this.walkAncestors(node));
      this.chains.set(node, chain);
    }
    return chain;
  }

  private walkAncestors(node: ProcessNode): ProcessNode[] {
    const out: ProcessNode[] = [];
    const seen = new Set<string>([node.key]);
    for (let cur = node.parent; cur !== undefined && out.length < MAX_ANCESTRY; cur = cur.parent) {
      if (seen.has(cur.key)) break;
      seen.add(cur.key);
      out.push(cur);
    }
    return out;
  }

  /** Forgets exited processes older than the retention window; returns how many. */
  prune(now: number): number {
    let n = 0;
    const queue = this.exited;
    const maxExited = this.opts.maxExited ?? MAX_EXITED;
    for (; this.exitedHead < queue.length; this.exitedHead++) {
      const node = queue[this.exitedHead];
      const tooMany = queue.length - this.exitedHead > maxExited;
      if (!tooMany && node?.exitedAt !== undefined && now - node.exitedAt <= this.retentionMs) break;
      if (node !== undefined && this.byKey.get(node.key) === node) {
        this.byKey.delete(node.key);
        n++;
      }
    }
    if (this.exitedHead > 1024 && this.exitedHead * 2 > queue.length) {
      this.exited = queue.slice(this.exitedHead);
      this.exitedHead = 0;
    }
    return n;
  }
}
