import type { DocumentBuilder, ProcessAction } from '../ecs/builder.js';
import { connectionDocument } from '../ecs/connection.js';
import type { EcsDocument } from '../ecs/document.js';
import { Action, Kind } from '../ecs/fields.js';
import type { ProcessNode, ProcessTable } from '../lineage/process-table.js';
import type { Logger } from '../log/logger.js';
import type { EventSink } from '../pipeline/types.js';
import type { ListenerRecord, ProcessRecord, RealtimeEvent, RealtimeFeed, Snapshot, Source } from '../sources/types.js';
import { errorMessage } from '../util/errors.js';
import type { Lifecycle } from '../util/lifecycle.js';
import { thisHostOs } from '../util/os.js';
import type { OsType } from '../util/os.js';
import { guardDetect } from './guard.js';
import { passesFilter } from './process-filter.js';
import type { ProcessFilter } from './process-filter.js';
import { Backlog, MAX_BACKLOG } from './backlog.js';
import { Handoff } from './handoff.js';
import { diffListeners } from './listener-diff.js';
import type { ListenerDiff, TrackedListener } from './listener-diff.js';
import { applyConnects, applyRealtime, RecentChanges } from './realtime-apply.js';
import type { ApplyTarget } from './realtime-apply.js';
import { WarningAggregator } from './warnings.js';

/** After process events from the proc connector, the next poll comes at most this soon (listeners it cannot see). */
const PROCESS_ACTIVITY_POLL_MS = 250;

/** Turns an event into alerts; the detectors plug in here. */
export type Detect = (doc: EcsDocument) => EcsDocument[];
export type { ProcessFilter } from './process-filter.js';

export interface WatcherOptions {
  source: Source;
  builder: DocumentBuilder;
  table: ProcessTable;
  sink: EventSink;
  logger: Logger;
  intervalMs: number;
  /** Poll interval while the real-time feed reports listeners as they change (eBPF): polls only reconcile. Default `intervalMs`. */
  reconcileIntervalMs?: number;
  /** Ship process events (they are always tracked). This, processFilter and detect are read per event (reload). */
  shipProcesses: boolean;
  /** Outbound connection events (events.connections): `all` ships them; otherwise they feed detection only. Read per event. */
  connections?: 'off' | 'alerts' | 'all';
  processFilter?: ProcessFilter;
  detect?: Detect;
  /** Called once, after the first poll's events were handed over: what the agent now watches. */
  onFirstPoll?: (watching: { listeners: number; processes: number }) => void;
  /** The OS whose process events are reported: a new process is `started` on Windows, `exec` elsewhere. Default: this host's. */
  os?: OsType | 'unix';
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
  /** Real-time events: the feed, what it changed lately, and the one lane both they and polls go through. */
  private feed: RealtimeFeed | undefined;
  private readonly recent = new RecentChanges();
  private lane: Promise<void> = Promise.resolve();
  private readonly backlog = new Backlog();
  private nextPollAt = 0;
  private readonly startedAt = Date.now();
  private target: ApplyTarget | undefined;
  /** Real-time events applied, and kernel-side losses reported. */
  realtimeEvents = 0; realtimeLost = 0;

  private readonly startAction: typeof Action.processExec | typeof Action.processStart;
  private readonly detect: Detect;

  constructor(private readonly o: WatcherOptions) {
    this.startAction = (o.os ?? thisHostOs()) === 'windows' ? Action.processStart : Action.processExec;
    this.warnings = new WarningAggregator(o.logger, (doc) => o.sink.accept(doc), o.builder.agentEvent);
    this.detect = guardDetect(() => this.o.detect, (err) => { this.warnings.add(`detection failed: ${errorMessage(err)}`); });
  }

  start(): Promise<void> {
    this.stopped = false;
    this.attachRealtime();
    this.schedule(0);
    return Promise.resolve();
  }

  /** Takes the source's real-time events from now on (start() does; tests that tick by hand call it). */
  attachRealtime(): void {
    const feed = this.o.source.realtime?.();
    if (this.feed !== undefined || feed === undefined || feed.status().mode === 'off') return;
    this.feed = feed;
    feed.subscribe((events) => { this.enqueue(events); });
  }

  /** Polls reconcile at a slower pace while the kernel reports listeners as they change. */
  private get pollEveryMs(): number {
    return this.feed?.status().listenersRealtime === true ? Math.max(this.o.intervalMs, this.o.reconcileIntervalMs ?? this.o.intervalMs) : this.o.intervalMs;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.nextPollAt = Date.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A failed poll (nothing on the event path may end the agent) is counted and reported.
      const poll = this.tick().catch((err: unknown) => { this.warnings.add(`poll failed: ${errorMessage(err)}`); });
      this.running = poll.finally(() => { this.running = undefined; if (this.timer === undefined) this.schedule(this.pollEveryMs); });
    }, delay);
    this.timer.unref();
  }

  /** Brings the next poll forward to at most `delayMs` from now (a poll under way finishes first). */
  private pollSoon(delayMs: number): void {
    if (this.stopped || this.running !== undefined || Date.now() + delayMs >= this.nextPollAt) return;
    this.schedule(delayMs);
  }

  /** Runs `fn` after everything queued before it: polls and real-time deliveries never interleave. */
  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.lane.then(fn);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private enqueue(events: RealtimeEvent[]): void {
    if (this.stopped || !this.backlog.add(events)) return;
    this.exclusive(() => this.applyPending()).catch((err: unknown) => {
      this.o.logger.error(`real-time events could not be applied: ${errorMessage(err)}`);
    });
  }

  private async applyPending(): Promise<void> {
    const { events, behind } = this.backlog.take();
    if (events.length === 0 && behind === 0) return;
    this.realtimeEvents += events.length;
    const out: EcsDocument[] = [];
    const applied = applyRealtime(events, this.target ??= this.applyTarget(), this.recent, out);
    const { stopped } = applied;
    const lost = applied.lost + behind;
    const handoff = new Handoff(this.o.sink);
    for (const doc of out) await handoff.add(doc);
    if (lost > 0 || stopped.length > 0) {
      this.realtimeLost += lost;
      const what = [
        ...(applied.lost > 0 ? [`lost ${applied.lost} kernel event(s)`] : []),
        ...(behind > 0 ? [`dropped ${behind} the watch fell behind on (${MAX_BACKLOG} waiting: a full spool, outputs slow or down)`] : []),
      ].join(' and ');
      const message = stopped.length > 0
        ? `real-time source stopped (${stopped.join('; ')}); polling continues every ${this.pollEveryMs} ms`
        : `real-time source ${what} (${this.realtimeLost} since start); a poll reconciles listeners and processes now`;
      this.o.logger.warn(message);
      await handoff.add(this.lossReport(lost, message));
      this.pollSoon(0);
    } else if (this.feed?.status().listenersRealtime === false) {
      // The proc connector sees processes, not sockets: a new process may have opened a listener.
      this.pollSoon(PROCESS_ACTIVITY_POLL_MS);
    }
    await handoff.settle();
    // An exec storm between two polls: the table forgets its oldest exits now, not at the poll.
    if (events.length > 256) this.o.table.prune(Date.now());
  }

  private applyTarget(): ApplyTarget {
    return {
      table: this.o.table,
      listeners: () => this.listeners,
      processEvent: (action, node, out, at) => { this.processEvent(action, node, out, at); },
      listenerEvent: (t, action, at, span, out) => {
        const doc = this.listenerDoc(t, action, at, span);
        out.push(doc);
        if (action === Action.listeningStarted) out.push(...this.detect(doc));
      },
      connectionEvent: (c, owner, at, out) => {
        const doc = connectionDocument(this.o.builder, c, owner, owner === undefined ? [] : this.o.table.ancestors(owner), at);
        out.push(...(this.o.connections === 'all' ? [doc] : []), ...this.detect(doc));
      },
      startedAt: this.startedAt,
      ...(this.o.source.ancestry === undefined ? {} : { ancestry: (pid: number) => this.o.source.ancestry?.(pid) ?? [] }),
    };
  }

  /** collector_degraded: real-time events lost (`lost`), with the running total. */
  private lossReport(lost: number, message: string): EcsDocument {
    return this.o.builder.agentEvent({ action: Action.collectorDegraded, message, severity: 47, fields: { portwarden: { collector: { realtime_lost: lost, realtime_lost_total: this.realtimeLost } } } });
  }

  async flush(): Promise<void> {
    await this.running; await this.lane;
  }

  /**
   * Stopping, and the spool takes no more than its overshoot (Pipeline.release): real-time events
   * not yet applied are dropped rather than turned into documents that would be refused; the count
   * is logged by shutdown().
   */
  abandon(): void {
    this.backlog.abandon();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    this.feed?.close();
    clearTimeout(this.timer);
    await this.running;
    await this.lane;
    const dropped = this.backlog.unapplied();
    if (dropped > 0) {
      // In-band too: the report is an agent event, which a released spool takes over its cap.
      this.realtimeLost += dropped;
      const message = `stopping: ${dropped} real-time event(s) not yet applied were dropped (the watch was behind: the spool full, outputs slow or down)`;
      this.o.logger.error(message);
      await this.o.sink.accept(this.lossReport(dropped, message)).catch(() => undefined);
    }
    await this.warnings.flush();
  }

  /** The current listener set, for inventories. */
  current(): TrackedListener[] { return [...this.listeners.values()]; }

  /** One poll: processes first (lineage must know owners), then listeners. */
  async tick(): Promise<void> {
    let snap: Snapshot;
    try {
      snap = await this.o.source.poll();
    } catch (err) {
      await this.warnings.fatal(`collector failed: ${errorMessage(err)}`);
      return;
    }
    await this.exclusive(() => this.reconcile(snap));
  }

  /** Applies a poll's snapshot; real-time changes made since the poll began are kept, not undone. */
  private async reconcile(snap: Snapshot): Promise<void> {
    this.ticks++;
    for (const w of snap.warnings) this.warnings.add(w);
    const at = snap.takenAt.toISOString();
    const since = snap.takenAt.getTime();
    const out: EcsDocument[] = [];
    const recent = this.recent;
    const changed = snap.changed ?? { processes: true, listeners: true };
    // After real-time changes the tracked sets may hold what no poll confirmed yet: compare in full.
    const processes = changed.processes || recent.processesTouched;
    const listenersChanged = changed.listeners || recent.listenersTouched;
    recent.processesTouched = false;
    recent.listenersTouched = false;
    if (processes || this.first) this.trackProcesses(snap.processes, out, since);
    // New outbound connections a polling source found (Windows) take the kernel's path.
    if (snap.connects !== undefined) applyConnects(snap.connects, since, this.target ??= this.applyTarget(), recent, out);
    recent.prune(since);
    if (!processes && !listenersChanged && !this.first && out.length === 0) {
      await this.warnings.maybeReport();
      return;
    }

    // Only processes changed (most ticks on a host with process churn): the listener set is the same.
    const diff = listenersChanged || this.first ? this.diff(snap.listeners, at, since) : undefined;
    const first = this.first;
    this.first = false;
    const handoff = new Handoff(this.o.sink);
    for (const doc of out) await handoff.add(doc);
    // Built as they are handed over: a first tick with thousands of listeners never holds all their documents at once (handoff.ts).
    // Indexed loops and offer(): no iterator result and no promise per document on a first scan (runtime/v8-flags.ts).
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
      for (const alert of this.detect(doc)) await handoff.add(alert);
    }
    await handoff.settle();
    if (first) this.o.onFirstPoll?.({ listeners: this.listeners.size, processes: snap.processes.size });
    this.o.table.prune(Date.now());
    await this.warnings.maybeReport();
  }

  /** This tick's listeners against the tracked set, which it replaces (real-time changes since `since` kept). */
  private diff(listeners: readonly ListenerRecord[], at: string, since: number): ListenerDiff {
    const now = listeners.map((record) => {
      const pid = record.owners[0];
      const owner = pid === undefined ? undefined : this.o.table.get(pid);
      return { record, owner };
    });
    const diff = diffListeners(this.listeners, now, at);
    this.recent.keepAcross(diff, since);
    this.listeners = diff.current;
    return diff;
  }

  private trackProcesses(live: ReadonlyMap<number, ProcessRecord>, out: EcsDocument[], since: number): void {
    const table = this.o.table;
    const now = Date.now();
    const recent = this.recent;
    // Both loops run over all processes on every tick that saw one come or go: no copies of them (deleting the visited Map entry is safe).
    for (const node of table.liveNodes()) {
      const rec = live.get(node.record.pid);
      if (rec === undefined || rec.startKey !== node.record.startKey) {
        // Started (as the kernel said) after the poll listed /proc: alive as far as anyone knows.
        if (RecentChanges.after(recent.processAdded, node.key, since)) continue;
        const ended = table.exit(node.record.pid, now);
        this.held.delete(node.key);
        if (ended !== undefined && !recent.unannounced.delete(node.key)) this.processEvent(Action.processEnd, ended, out);
      }
    }
    const fresh: ProcessRecord[] = [];
    // forEach and indexed loops, not for-of: a first scan runs without the optimizing compiler
    // (runtime/v8-flags.ts), where each for-of step allocates an iterator result.
    const startMs = new Map<ProcessRecord, number>();
    live.forEach((r) => {
      if (table.get(r.pid)?.record === r) return;
      // Ended (as the kernel said) after the poll listed /proc: not to come back.
      if (table.find(r.pid, r.startKey)?.exitedAt !== undefined) return;
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
      // A fork the kernel reported, still running its parent's image: announced now, as polling would.
      if (recent.unannounced.delete(node.key) && !pending && change !== 'exec') this.processEvent(this.startAction, node, out);
      if (change === 'new') {
        const action = this.first || rec.existing === true ? Action.alreadyRunning : this.startAction;
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

  private processEvent(action: ProcessAction, node: ProcessNode, out: EcsDocument[], at?: string): void {
    const detect = action !== Action.processEnd && this.o.detect !== undefined;
    const ship = this.o.shipProcesses && passesFilter(this.o.processFilter, node);
    if (!detect && !ship) return;
    const doc = this.o.builder.process(action, node, this.o.table.ancestors(node), at);
    if (ship) out.push(doc);
    if (detect) out.push(...this.detect(doc));
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
