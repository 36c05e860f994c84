import type { DocumentBuilder, ProcessAction } from '../ecs/builder.js';
import type { EcsDocument } from '../ecs/document.js';
import { Action, Kind } from '../ecs/fields.js';
import type { ProcessNode, ProcessTable } from '../lineage/process-table.js';
import type { Logger } from '../log/logger.js';
import type { EventSink } from '../pipeline/types.js';
import type { ListenerRecord, ProcessRecord, Source } from '../sources/types.js';
import { errorMessage } from '../util/errors.js';
import type { Lifecycle } from '../util/lifecycle.js';
import { Handoff } from './handoff.js';
import { diffListeners } from './listener-diff.js';
import type { ListenerDiff, TrackedListener } from './listener-diff.js';
import { WarningAggregator } from './warnings.js';

/** Turns an event into alerts; the detectors plug in here. */
export type Detect = (doc: EcsDocument) => EcsDocument[];

export interface ProcessFilter {
  users: string[];
  exclude_executables: string[];
  parents: string[];
}

export interface WatcherOptions {
  source: Source;
  builder: DocumentBuilder;
  table: ProcessTable;
  sink: EventSink;
  logger: Logger;
  intervalMs: number;
  /** Ship process events (they are always tracked). */
  shipProcesses: boolean;
  processFilter?: ProcessFilter;
  detect?: Detect;
}

/**
 * Polls the source, keeps the process table and the listener set, and hands events (and the
 * alerts the detectors raise on them) to the sink. One tick at a time; a failing poll is reported
 * in-band and the next tick tries again.
 */
export class Watcher implements Lifecycle {
  private listeners = new Map<string, TrackedListener>();
  private first = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly warnings: WarningAggregator;
  /** Events of processes first seen with `detailsPending`, held until the source completes them. */
  private readonly held = new Map<string, ProcessAction>();
  ticks = 0;

  constructor(private readonly o: WatcherOptions) {
    this.warnings = new WarningAggregator(o.logger, (doc) => o.sink.accept(doc), o.builder.agentEvent);
  }

  start(): Promise<void> {
    this.stopped = false;
    this.schedule(0);
    return Promise.resolve();
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.o.intervalMs);
      });
    }, delay);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    await this.running;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.warnings.flush();
  }

  /** The current listener set, for inventories. */
  current(): TrackedListener[] {
    return [...this.listeners.values()];
  }

  /** One poll: processes first (lineage must know owners), then listeners. */
  async tick(): Promise<void> {
    let snap;
    try {
      snap = await this.o.source.poll();
    } catch (err) {
      await this.warnings.fatal(`collector failed: ${errorMessage(err)}`);
      return;
    }
    this.ticks++;
    for (const w of snap.warnings) this.warnings.add(w);
    const at = snap.takenAt.toISOString();
    const out: EcsDocument[] = [];
    const changed = snap.changed ?? { processes: true, listeners: true };
    if (changed.processes || this.first) this.trackProcesses(snap.processes, out);
    if (!changed.processes && !changed.listeners && !this.first) {
      await this.warnings.maybeReport();
      return;
    }

    // Only processes changed (most ticks on a host with process churn): the listener set is the same.
    const diff = changed.listeners || this.first ? this.diff(snap.listeners, at) : undefined;
    const first = this.first;
    this.first = false;
    const handoff = new Handoff(this.o.sink);
    for (const doc of out) await handoff.add(doc);
    // Built as they are handed over: a first tick on a host with thousands of listeners never
    // holds all their documents in memory at once (handoff.ts). Indexed loops and offer(): no
    // iterator result and no promise per document on a first scan (util/v8-flags.ts).
    const stopped = diff?.stopped ?? [];
    for (let i = 0; i < stopped.length; i++) {
      const t = stopped[i];
      if (t === undefined) continue;
      const full = handoff.offer(this.listenerDoc(t, Action.listeningStopped, at, { start: t.firstSeen, end: at }));
      if (full !== undefined) await full;
    }
    const started = diff?.started ?? [];
    for (let i = 0; i < started.length; i++) {
      const t = started[i];
      if (t === undefined) continue;
      const doc = this.listenerDoc(t, first ? Action.listeningExisting : Action.listeningStarted, at);
      const full = handoff.offer(doc);
      if (full !== undefined) await full;
      for (const alert of this.o.detect?.(doc) ?? []) await handoff.add(alert);
    }
    await handoff.settle();
    this.o.table.prune(Date.now());
    await this.warnings.maybeReport();
  }

  /** This tick's listeners against the tracked set, which it replaces. */
  private diff(listeners: readonly ListenerRecord[], at: string): ListenerDiff {
    const now = listeners.map((record) => {
      const pid = record.owners[0];
      const owner = pid === undefined ? undefined : this.o.table.get(pid);
      return { record, owner };
    });
    const diff = diffListeners(this.listeners, now, at);
    this.listeners = diff.current;
    return diff;
  }

  private trackProcesses(live: ReadonlyMap<number, ProcessRecord>, out: EcsDocument[]): void {
    const table = this.o.table;
    const now = Date.now();
    // Both loops run over all processes on every tick that saw one come or go: no copies of them.
    // (Deleting the entry being visited from a Map is safe while iterating it.)
    for (const node of table.liveNodes()) {
      const rec = live.get(node.record.pid);
      if (rec === undefined || rec.startKey !== node.record.startKey) {
        const ended = table.exit(node.record.pid, now);
        this.held.delete(node.key);
        if (ended !== undefined) this.processEvent(Action.processEnd, ended, out);
      }
    }
    const fresh: ProcessRecord[] = [];
    // forEach and indexed loops, not for-of: a first scan runs without the optimizing compiler
    // (util/v8-flags.ts), where each for-of step allocates an iterator result.
    const startMs = new Map<ProcessRecord, number>();
    live.forEach((r) => {
      if (table.get(r.pid)?.record === r) return;
      fresh.push(r);
      startMs.set(r, Date.parse(r.start));
    });
    // Parents before children, so each child finds its parent in the table.
    fresh.sort((a, b) => (startMs.get(a) ?? 0) - (startMs.get(b) ?? 0) || a.pid - b.pid);
    for (let i = 0; i < fresh.length; i++) {
      const rec = fresh[i];
      if (rec === undefined) continue;
      const { node, change } = table.upsert(rec);
      const pending = rec.detailsPending === true;
      if (change === 'new') {
        const action = this.first || rec.existing === true ? Action.alreadyRunning : startAction();
        // Its document and detection need the command line and executable: wait for them.
        if (pending) this.held.set(node.key, action);
        else this.processEvent(action, node, out);
      } else if (change === 'exec') {
        this.held.delete(node.key);
        this.processEvent(Action.processExec, node, out);
      } else if (!pending) {
        const held = this.held.get(node.key);
        if (held !== undefined) {
          this.held.delete(node.key);
          this.processEvent(held, node, out);
        }
      }
    }
  }

  private processEvent(action: ProcessAction, node: ProcessNode, out: EcsDocument[]): void {
    const detect = action !== Action.processEnd && this.o.detect !== undefined;
    const ship = this.o.shipProcesses && this.passesFilter(node);
    if (!detect && !ship) return;
    const doc = this.o.builder.process(action, node, this.o.table.ancestors(node));
    if (ship) out.push(doc);
    if (detect) out.push(...(this.o.detect?.(doc) ?? []));
  }

  private passesFilter(node: ProcessNode): boolean {
    const f = this.o.processFilter;
    if (f === undefined) return true;
    const r = node.record;
    if (f.users.length > 0 && (r.userName === undefined || !f.users.includes(r.userName))) return false;
    if (r.executable !== undefined && f.exclude_executables.some((p) => r.executable?.startsWith(p))) return false;
    if (f.parents.length > 0 && (node.parent === undefined || !f.parents.includes(node.parent.record.name))) return false;
    return true;
  }

  private listenerDoc(
    t: TrackedListener,
    action: typeof Action.listeningStarted | typeof Action.listeningStopped | typeof Action.listeningExisting,
    at: string,
    span: { start?: string; end?: string } = {},
    kind: typeof Kind.event | typeof Kind.state = Kind.event,
  ): EcsDocument {
    const owner = t.owner;
    return this.o.builder.listener(t.record, owner, owner === undefined ? [] : this.o.table.ancestors(owner), {
      action, kind, timestamp: at, ...span,
    });
  }

  /** Every current listener as `listening_existing` with `event.kind: state` (scheduled inventory). */
  async inventory(): Promise<number> {
    const at = new Date().toISOString();
    const handoff = new Handoff(this.o.sink);
    const listeners = this.current();
    for (let i = 0; i < listeners.length; i++) {
      const t = listeners[i];
      if (t === undefined) continue;
      const full = handoff.offer(this.listenerDoc(t, Action.listeningExisting, at, {}, Kind.state));
      if (full !== undefined) await full;
    }
    await handoff.settle();
    return listeners.length;
  }
}

function startAction(): typeof Action.processExec | typeof Action.processStart {
  return process.platform === 'win32' ? Action.processStart : Action.processExec;
}
