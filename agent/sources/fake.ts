import type { ConnectAttempt, ConnectionRecord, ListenerRecord, ProcessRecord, RealtimeEvent, RealtimeFeed, RealtimeStatus, Snapshot, Source, SourceInfo } from './types.js';

/** A programmable real-time feed: `emit` delivers events as a kernel producer would. */
export class FakeRealtimeFeed implements RealtimeFeed {
  private handler: ((events: RealtimeEvent[]) => void) | undefined;
  lostCount = 0;
  closed = false;

  constructor(private readonly st: RealtimeStatus = { requested: 'auto', mode: 'ebpf', reasons: [], blind: [], listenersRealtime: true }) {}

  status(): RealtimeStatus {
    return this.st;
  }

  subscribe(handler: (events: RealtimeEvent[]) => void): void {
    this.handler = handler;
  }

  emit(events: RealtimeEvent[]): void {
    this.handler?.(events);
  }

  lost(): number {
    return this.lostCount;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * A programmable collector for tests of everything above the sources: set the process table and
 * listeners, then let the watch poll. `fail` makes the next poll reject (a blind collector).
 */
export class FakeSource implements Source {
  processes = new Map<number, ProcessRecord>();
  listeners: ListenerRecord[] = [];
  warnings: string[] = [];
  fail: Error | undefined;
  polls = 0;
  /** The feed `realtime()` hands out; none (polling only) when undefined. */
  feed: FakeRealtimeFeed | undefined;
  /** When the next snapshot says it was taken (a poll that began before some real-time events). */
  takenAt: Date | undefined;
  /** The established connections `connections()` reports (those of the pids asked about), and the pids each call asked about. */
  established: ConnectionRecord[] = [];
  /** New outbound connections the next snapshot carries (a polling source's, as Windows has them). */
  connects: ConnectAttempt[] = [];
  /** What the next snapshot says changed since the last one (a source that can tell); undefined: not said. */
  changed: Snapshot['changed'];
  asked: number[][] = [];

  connections(pids: readonly number[]): ConnectionRecord[] {
    this.asked.push([...pids].sort((a, b) => a - b));
    return this.established.filter((c) => pids.includes(c.pid));
  }

  realtime(): RealtimeFeed | undefined {
    return this.feed;
  }

  start = (): Promise<void> => Promise.resolve();
  flush = (): Promise<void> => Promise.resolve();
  shutdown = (): Promise<void> => Promise.resolve();

  info(): SourceInfo {
    return { platform: 'fake', listenerPath: 'fake', processPath: 'fake', privileged: true, limitations: [] };
  }

  setProcesses(records: ProcessRecord[]): void {
    this.processes = new Map(records.map((r) => [r.pid, r]));
  }

  poll(): Promise<Snapshot> {
    this.polls++;
    if (this.fail !== undefined) {
      const err = this.fail;
      this.fail = undefined;
      return Promise.reject(err);
    }
    const warnings = this.warnings;
    this.warnings = [];
    const takenAt = this.takenAt ?? new Date();
    this.takenAt = undefined;
    const { connects, changed } = this;
    this.connects = [];
    this.changed = undefined;
    return Promise.resolve({
      takenAt, listeners: [...this.listeners], processes: new Map(this.processes), warnings,
      ...(connects.length > 0 ? { connects } : {}), ...(changed === undefined ? {} : { changed }),
    });
  }
}
