import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import type { z } from 'zod';
import type { Logger } from '../log/logger.js';
import type { AgentEventInput } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import { errorMessage } from '../util/errors.js';
import type { heartbeatSchema } from './config.js';
import type { PipelineStats } from './types.js';

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * The heartbeat event (node-cron schedule) and one aggregated warning per interval per output
 * that had trouble, never a line per event.
 */
export class Telemetry {
  private task: ScheduledTask | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last = new Map<string, { failed: number; dropped: number; dead: number }>();

  constructor(private readonly o: {
    heartbeat: z.output<typeof heartbeatSchema>;
    stats: () => PipelineStats;
    emit: (input: AgentEventInput) => void;
    logger: Logger;
    lastFailure: (output: string) => string;
    warnIntervalMs: number;
    /** The agent's health summary, merged into the heartbeat's `portwarden` fields. */
    health?: () => Record<string, unknown>;
  }) {
    this.schedule = o.heartbeat;
  }

  private schedule: z.output<typeof heartbeatSchema>;

  start(): void {
    this.startTask();
    this.timer = setInterval(() => { this.summarize(); }, this.o.warnIntervalMs);
    this.timer.unref();
  }

  private startTask(): void {
    if (this.schedule.enabled) {
      this.task = cron.schedule(this.schedule.schedule, () => { this.heartbeat(); }, { unref: true, noOverlap: true, name: 'portwarden-heartbeat' });
    }
  }

  /** A new heartbeat schedule (reload); the warning timer goes on. */
  async reschedule(heartbeat: z.output<typeof heartbeatSchema>): Promise<void> {
    this.schedule = heartbeat;
    const t = this.task;
    this.task = undefined;
    await t?.destroy();
    if (this.timer !== undefined) this.startTask();
  }

  /** Emits one heartbeat (`event.kind: metric`) carrying the pipeline counters. */
  heartbeat(): void {
    try {
      const s = this.o.stats();
      const queued = s.outputs.reduce((n, x) => n + x.queuedEvents, 0);
      this.o.emit({
        action: Action.heartbeat,
        kind: 'metric',
        message: `portwarden heartbeat: ${s.received} accepted, ${queued} queued across ${s.outputs.length} output(s)`,
        fields: { portwarden: { ...this.o.health?.(), pipeline: s } },
      });
    } catch (err) {
      this.o.logger.warn('heartbeat failed', { error: errorMessage(err) });
    }
  }

  /** Logs one warning per output whose failures, drops or dead letters grew since the last call. */
  summarize(): void {
    const secs = Math.round(this.o.warnIntervalMs / 1000);
    const droppedNow: Record<string, number> = {};
    for (const out of this.o.stats().outputs) {
      const now = { failed: sum(out.failed), dropped: sum(out.dropped), dead: out.deadLettered };
      const prev = this.last.get(out.name) ?? { failed: 0, dropped: 0, dead: 0 };
      this.last.set(out.name, now);
      const d = { failed: now.failed - prev.failed, dropped: now.dropped - prev.dropped, dead: now.dead - prev.dead };
      if (d.dropped > 0) droppedNow[out.name] = d.dropped;
      if (d.failed + d.dropped + d.dead === 0) continue;
      const parts = [
        d.failed > 0 ? `${d.failed} failed send(s) (last: ${this.o.lastFailure(out.name)})` : '',
        d.dropped > 0 ? `dropped ${d.dropped} event(s)` : '',
        d.dead > 0 ? `dead-lettered ${d.dead} event(s)` : '',
      ].filter((p) => p !== '');
      this.o.logger.warn(`output ${out.name}: ${parts.join(', ')} in the last ${secs} s; ${out.queuedEvents} queued, state ${out.state}`, {
        output: out.name, failed: d.failed, dropped: d.dropped, dead_lettered: d.dead, queued: out.queuedEvents,
      });
    }
    const total = Object.values(droppedNow).reduce((a, b) => a + b, 0);
    if (total > 0) {
      // In-band, so the SIEM sees the gap, not only the agent's log.
      this.o.emit({
        action: Action.eventsDropped, severity: 73,
        message: `portwarden dropped ${total} event(s) in the last ${secs} s`,
        fields: { portwarden: { pipeline: { dropped_by_output: droppedNow, window_seconds: secs } } },
      });
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const t = this.task;
    this.task = undefined;
    await t?.destroy();
  }
}
