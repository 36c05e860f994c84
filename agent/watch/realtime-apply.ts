/**
 * Applies real-time events (sources/types.ts RealtimeEvent) to the watch's process table and
 * listener set, in kernel order, and remembers what it changed for a while: a poll that started
 * before an event cannot contain it, so the reconciliation must neither undo nor repeat it.
 */
import type { EcsDocument } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { ProcessNode, ProcessTable } from '../lineage/process-table.js';
import type { ConnectAttempt, ListenerRecord, ProcessRecord, RealtimeEvent } from '../sources/types.js';
import { listenerKey } from './listener-diff.js';
import type { ListenerDiff, TrackedListener } from './listener-diff.js';

/** How long before a poll's start a real-time change still counts as possibly unseen by it. */
const SLACK_MS = 250;

type ListenerAction = typeof Action.listeningStarted | typeof Action.listeningStopped;

/** What the watch lends the applier. */
export interface ApplyTarget {
  table: ProcessTable;
  /** The watch's listener set (replaced by each reconciling poll, so asked for each time). */
  listeners(): Map<string, TrackedListener>;
  /** Builds, ships and detects on a process event (Watcher.processEvent). */
  processEvent(action: typeof Action.processExec | typeof Action.processEnd | typeof Action.alreadyRunning, node: ProcessNode, out: EcsDocument[], at: string): void;
  listenerEvent(t: TrackedListener, action: ListenerAction, at: string, span: { start?: string; end?: string }, out: EcsDocument[]): void;
  /** Builds, detects on and (per events.connections) ships an outbound connection event. */
  connectionEvent?(record: ConnectAttempt, owner: ProcessNode | undefined, at: string, out: EcsDocument[]): void;
  /** Epoch ms when the agent started: an owner first met through an event but started before is `already_running`. */
  startedAt: number;
  /** The source's process and its ancestors, child first (Source.ancestry), when it has them. */
  ancestry?(pid: number): readonly ProcessRecord[];
}

/** Real-time changes by key and time, for the reconciling poll (pruned as polls pass). */
export class RecentChanges {
  readonly processAdded = new Map<string, number>();
  readonly listenerAdded = new Map<string, number>();
  readonly listenerRemoved = new Map<string, number>();
  /** Processes known from a fork whose process event is not out yet (they never exec'd). */
  readonly unannounced = new Set<string>();
  /** The listener set or the process table changed since the last poll: reconcile in full. */
  listenersTouched = false;
  processesTouched = false;
  /**
   * Tracked listeners by port, for closes (those of ordinary UDP sockets, DNS lookups, are frequent).
   * Built for one tracked map: a poll replaces the map, and the next lookup rebuilds the index.
   * Listeners added by a real-time listen join it; removed ones are skipped by the lookup.
   */
  private index: { of: ReadonlyMap<string, TrackedListener>; byPort: Map<number, TrackedListener[]> } | undefined;

  /** The index of `listeners` (rebuilt when it is another map than the last one). */
  byPort(listeners: ReadonlyMap<string, TrackedListener>): Map<number, TrackedListener[]> {
    if (this.index?.of === listeners) return this.index.byPort;
    const map = new Map<number, TrackedListener[]>();
    for (const tr of listeners.values()) {
      const list = map.get(tr.record.port);
      if (list === undefined) map.set(tr.record.port, [tr]);
      else list.push(tr);
    }
    this.index = { of: listeners, byPort: map };
    return map;
  }

  /** A listener just added to `listeners` joins its index, when it has one. */
  indexAdded(listeners: ReadonlyMap<string, TrackedListener>, tracked: TrackedListener): void {
    if (this.index?.of !== listeners) return;
    const list = this.index.byPort.get(tracked.record.port);
    if (list === undefined) this.index.byPort.set(tracked.record.port, [tracked]);
    else list.push(tracked);
  }

  /** Whether a real-time change at or after `since` (a poll's start) could be missing from that poll. */
  static after(map: ReadonlyMap<string, number>, key: string, since: number): boolean {
    const at = map.get(key);
    return at !== undefined && at >= since - SLACK_MS;
  }

  /** A poll's listener diff (the poll began at `since`) without undoing real-time changes made since. */
  keepAcross(diff: ListenerDiff, since: number): void {
    const added = this.listenerAdded;
    const removed = this.listenerRemoved;
    if (added.size === 0 && removed.size === 0) return;
    // Opened after the poll read the sockets: still open as far as anyone knows.
    diff.stopped = diff.stopped.filter((t) => {
      if (!RecentChanges.after(added, t.key, since)) return true;
      diff.current.set(t.key, t);
      return false;
    });
    // Closed after the poll read the sockets: reported already, not to come back.
    diff.started = diff.started.filter((t) => {
      if (!RecentChanges.after(removed, t.key, since)) return true;
      diff.current.delete(t.key);
      return false;
    });
  }

  /** Forgets changes that every later poll has seen. */
  prune(before: number): void {
    for (const map of [this.processAdded, this.listenerAdded, this.listenerRemoved]) {
      for (const [k, at] of map) if (at < before - SLACK_MS) map.delete(k);
    }
  }
}

/**
 * Applies one delivery; returns the events the kernel side said it lost, and the producers that
 * stopped (a `lost` event with count 0 names one).
 */
export function applyRealtime(events: readonly RealtimeEvent[], t: ApplyTarget, recent: RecentChanges, out: EcsDocument[]): { lost: number; stopped: string[] } {
  let lost = 0;
  const stopped: string[] = [];
  for (const e of events) {
    const at = new Date(e.at).toISOString();
    switch (e.kind) {
      case 'fork': {
        withParents(e.record, t, out, at);
        const { node, change } = t.table.upsert(e.record);
        if (change === 'new') {
          recent.processAdded.set(node.key, e.at);
          recent.unannounced.add(node.key);
          recent.processesTouched = true;
        }
        break;
      }
      case 'exec': {
        withParents(e.record, t, out, at);
        const { node } = t.table.upsert(e.record);
        recent.processAdded.set(node.key, e.at);
        recent.unannounced.delete(node.key);
        recent.processesTouched = true;
        // Every exec the kernel reports is one, also of the same file with the same arguments.
        t.processEvent(Action.processExec, node, out, at);
        break;
      }
      case 'exit': {
        const node = t.table.find(e.pid, e.startKey);
        if (node === undefined || node.exitedAt !== undefined) break;
        t.table.exit(e.pid, e.at);
        recent.processesTouched = true;
        if (!recent.unannounced.delete(node.key)) t.processEvent(Action.processEnd, node, out, at);
        break;
      }
      case 'listen':
        listen(e.record, e.ownerRecord, e.at, at, t, recent, out);
        break;
      case 'unlisten':
        unlisten(e.record, e.at, at, t, recent, out);
        break;
      case 'connect':
        // The process connected before its exit (kernel order), so the table still holds it.
        t.connectionEvent?.(e.record, e.ownerStale === true ? undefined : connectOwner(e.record.pid, e.ownerRecord, t, recent, out, at), at, out);
        break;
      case 'lost':
        lost += e.count;
        if (e.count === 0) stopped.push(e.producer);
        break;
    }
  }
  return { lost, stopped };
}

/** Outbound connections a poll found new (a source without a connect() hook), applied as the kernel's `connect` events at `at` (epoch ms). */
export function applyConnects(connects: readonly ConnectAttempt[], at: number, t: ApplyTarget, recent: RecentChanges, out: EcsDocument[]): void {
  if (connects.length > 0) applyRealtime(connects.map((record): RealtimeEvent => ({ kind: 'connect', record, at })), t, recent, out);
}

/**
 * A process whose parent the table does not hold yet (a busy host's first poll left it for later):
 * its parents are read now and enter the table first, parents before children, announced as the
 * poll would have (already running), so the new node's lineage goes all the way up.
 */
function withParents(rec: ProcessRecord, t: ApplyTarget, out: EcsDocument[], at: string): void {
  if (rec.ppid <= 0 || rec.ppid === rec.pid || t.ancestry === undefined || t.table.get(rec.ppid) !== undefined) return;
  const chain = t.ancestry(rec.ppid);
  for (let i = chain.length - 1; i >= 0; i--) {
    const parent = chain[i];
    if (parent === undefined || parent.detailsPending === true) continue;
    if (t.table.get(parent.pid)?.record.startKey === parent.startKey) continue;
    const { node, change } = t.table.upsert(parent);
    if (change === 'new') t.processEvent(Action.alreadyRunning, node, out, at);
  }
}

function ownerOf(pid: number | undefined, ownerRecord: ProcessRecord | undefined, t: ApplyTarget, recent: RecentChanges, out: EcsDocument[], at: string): ProcessNode | undefined {
  if (pid === undefined) return undefined;
  const live = t.table.get(pid);
  // A live node of another start is an earlier process whose exit was lost (the pid was reused): the record read now wins.
  if (ownerRecord === undefined || (live !== undefined && live.record.startKey === ownerRecord.startKey)) return live;
  // Met first through its socket (it predates the agent and was not read yet, or its exec was lost).
  const { node } = t.table.upsert(ownerRecord);
  recent.processAdded.set(node.key, Date.parse(at));
  recent.processesTouched = true;
  t.processEvent(Date.parse(ownerRecord.start) < t.startedAt ? Action.alreadyRunning : Action.processExec, node, out, at);
  return node;
}

/**
 * The connecting process. A record the source read anew for a process the table holds under
 * another executable (same pid and start) is an exec the kernel side lost: it is applied first
 * (an exec event, as the next poll would have found it), so the connection is not pinned on the
 * image the process ran before (a shell's fork that became curl).
 */
function connectOwner(pid: number, ownerRecord: ProcessRecord | undefined, t: ApplyTarget, recent: RecentChanges, out: EcsDocument[], at: string): ProcessNode | undefined {
  const live = t.table.get(pid);
  if (live === undefined || ownerRecord === undefined || live.record.startKey !== ownerRecord.startKey
    || ownerRecord.executable === undefined || live.record.executable === ownerRecord.executable) return ownerOf(pid, ownerRecord, t, recent, out, at);
  const { node, change } = t.table.upsert(ownerRecord);
  recent.processAdded.set(node.key, Date.parse(at));
  recent.processesTouched = true;
  if (change === 'exec') t.processEvent(Action.processExec, node, out, at);
  return node;
}

function listen(record: ListenerRecord, ownerRecord: ProcessRecord | undefined, ms: number, at: string, t: ApplyTarget, recent: RecentChanges, out: EcsDocument[]): void {
  const owner = ownerOf(record.owners[0], ownerRecord, t, recent, out, at);
  const key = listenerKey(record, owner?.entityId ?? 'unknown');
  if (t.listeners().has(key)) return;
  const tracked: TrackedListener = { key, record, owner, firstSeen: at };
  t.listeners().set(key, tracked);
  recent.indexAdded(t.listeners(), tracked);
  recent.listenerAdded.set(key, ms);
  recent.listenerRemoved.delete(key);
  recent.listenersTouched = true;
  t.listenerEvent(tracked, Action.listeningStarted, at, {}, out);
}

/** The tracked listener a close names: by socket inode, else by namespace, protocol, address and port. */
function findTracked(record: ListenerRecord, listeners: ReadonlyMap<string, TrackedListener>, recent: RecentChanges): TrackedListener | undefined {
  let byAddress: TrackedListener | undefined;
  for (const tr of recent.byPort(listeners).get(record.port) ?? []) {
    const r = tr.record;
    if (listeners.get(tr.key) !== tr) continue;
    if (record.inode !== 0 && r.inode === record.inode) return tr;
    if (r.transport === record.transport && r.address === record.address && r.family === record.family
      && (r.netns === record.netns || record.netns === 'unknown') && (record.inode === 0 || r.inode === 0)) byAddress ??= tr;
  }
  return byAddress;
}

function unlisten(record: ListenerRecord, ms: number, at: string, t: ApplyTarget, recent: RecentChanges, out: EcsDocument[]): void {
  const tracked = findTracked(record, t.listeners(), recent);
  if (tracked === undefined) return;
  t.listeners().delete(tracked.key);
  recent.listenerRemoved.set(tracked.key, ms);
  recent.listenerAdded.delete(tracked.key);
  recent.listenersTouched = true;
  t.listenerEvent(tracked, Action.listeningStopped, at, { start: tracked.firstSeen, end: at }, out);
}
