import type { AgentEventFactory, EcsDocument } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import type { Logger } from '../log/logger.js';

const REPORT_EVERY_MS = 60_000;

/**
 * Collector problems (malformed /proc lines, unreadable pids, a failing poll) are counted and
 * reported in-band at most once a minute as one `collector_degraded` agent event, never one per line.
 */
export class WarningAggregator {
  private counts = new Map<string, number>();
  private lastReport = 0;
  private failing = false;

  constructor(
    private readonly logger: Logger,
    private readonly emit: (doc: EcsDocument) => Promise<void>,
    private readonly agentEvent: AgentEventFactory,
    private readonly now: () => number = Date.now,
  ) {}

  add(text: string): void {
    // Numbers (pids, counts) vary; the shape of the problem is what is worth counting.
    const shape = text.replace(/\d+/g, 'N');
    this.counts.set(shape, (this.counts.get(shape) ?? 0) + 1);
  }

  /** The whole collector failed this tick: say so at once, the first time of a streak. */
  async fatal(text: string): Promise<void> {
    if (this.failing) return;
    this.failing = true;
    this.logger.error(text);
    await this.emit(this.agentEvent({ action: Action.collectorDegraded, message: text, severity: 73 }));
  }

  async maybeReport(): Promise<void> {
    this.failing = false;
    if (this.counts.size === 0 || this.now() - this.lastReport < REPORT_EVERY_MS) return;
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.counts.size === 0) return;
    this.lastReport = this.now();
    const items = [...this.counts].sort((a, b) => b[1] - a[1]);
    this.counts.clear();
    const total = items.reduce((n, [, c]) => n + c, 0);
    const message = `collector met ${total} problem(s): ${items.slice(0, 5).map(([t, c]) => `${t} (x${c})`).join('; ')}`;
    this.logger.warn(message);
    await this.emit(this.agentEvent({
      action: Action.collectorDegraded,
      message,
      severity: 21,
      fields: { portwarden: { collector: { problems: items.slice(0, 20).map(([text, count]) => ({ text, count })) } } },
    }));
  }
}
