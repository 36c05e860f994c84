import type { ListenerRecord, ProcessRecord, Snapshot, Source, SourceInfo } from './types.js';

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
    return Promise.resolve({ takenAt: new Date(), listeners: [...this.listeners], processes: new Map(this.processes), warnings });
  }
}
