import type { Logger } from '../log/logger.js';
import type { AgentEventInput } from '../ecs/document.js';
import { Action } from '../ecs/fields.js';
import { errorMessage } from '../util/errors.js';
import { Throttle } from '../util/throttle.js';
import type { OutputConfig } from './output-config.js';
import type { SendResult, Transport } from '../../transports/types.js';
import { Backoff } from './backoff.js';
import type { DeadLetter } from './dead-letter.js';
import type { Lane } from './lane.js';
import type { LaneReader, ReadResult } from './spool/reader.js';
import { SpooledEvent } from './outbound.js';

export interface DispatcherDeps {
  lane: Lane;
  reader: LaneReader;
  transport: Transport;
  config: OutputConfig;
  deadLetter: DeadLetter;
  logger: Logger;
  now: () => number;
  /** Raises a portwarden.agent event (output_paused, output_resumed). */
  emit: (input: AgentEventInput) => void;
  sendTimeoutMs: number;
  /** Least time between two cursor writes (see persistSoon); 0 writes after every batch. */
  cursorIntervalMs: number;
  random?: () => number;
}

/**
 * Moves one output's events from the spool to its transport: one batch in flight, retried until
 * it resolves, then the cursor moves. Nothing else waits on it, so a dead output holds back no one.
 */
export class Dispatcher {
  private stopping = false;
  /** Shutting down: send what is queued without waiting for batches to fill; stop at the first failure. */
  private draining = false;
  private drainFailed = false;
  /** Shutdown cut short (a second stop signal): no more waiting for the output. */
  private hurried = false;
  /** A method, not the field, so checks after an await are not narrowed away. */
  private isStopping(): boolean { return this.stopping; }
  private readonly stopCtl = new AbortController();
  private running: Promise<void> | undefined;
  private readonly backoff: Backoff;
  private lastReason = '';
  private wakeSleep: (() => void) | undefined;
  private cursorFailures = 0;
  private readonly cursorWarning: Throttle;
  private cursorTimer: NodeJS.Timeout | undefined;
  private lastCursorSave = -Infinity;

  constructor(private readonly d: DispatcherDeps) {
    this.backoff = new Backoff(d.config.retry, d.random);
    this.cursorWarning = new Throttle(d.now);
  }

  get lastFailure(): string { return this.lastReason; }

  start(): void {
    this.running ??= this.loop().catch((err: unknown) => {
      this.d.logger.error('output dispatcher stopped on an internal error', { output: this.d.lane.name, error: errorMessage(err) });
    });
  }

  /**
   * Drains what is queued while the output keeps accepting, until `deadline` (epoch ms); then
   * stops taking batches, gives the one in flight the rest of the time, and abandons it
   * unacknowledged (it is sent again after a restart). With `untilSeq`, the drain ends once
   * everything before that spool sequence is resolved (what was queued when a reload asked),
   * not when a stream that keeps coming runs dry.
   */
  async stop(deadline: number, untilSeq?: number): Promise<void> {
    this.draining = true;
    this.d.lane.notify();
    const lane = this.d.lane;
    const behind = (): boolean => (untilSeq === undefined ? lane.queuedEvents > 0 : lane.ackPos.seq < untilSeq && lane.queuedEvents > 0);
    // An output already failing (backoff, breaker open, paused) gets no drain: its backoff may
    // outlast the deadline, and what it holds stays in the spool for the next run.
    const failing = lane.state !== 'running';
    while (!failing && this.running !== undefined && behind() && !this.drainFailed && !this.hurried && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.stopping = true;
    this.d.lane.notify();
    this.wakeSleep?.();
    // Referenced on purpose: shutdown is bounded and must get to its end even if nothing else runs.
    const t = setTimeout(() => { this.stopCtl.abort(); }, this.hurried ? 0 : Math.max(0, deadline - Date.now()));
    await this.running;
    clearTimeout(t);
    // The owner persists the final cursor once the dispatcher has stopped (shutdown, reload).
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    this.stopCtl.abort();
    await this.d.reader.close();
  }

  /**
   * Ends stop()'s wait for the output now: the drain stops and the batch in flight is aborted (a
   * transport that ignores the abort is abandoned a second later), unacknowledged, so it stays in
   * the spool and is sent again after the restart.
   */
  hurry(): void {
    this.hurried = true;
    if (this.draining) {
      // Stop taking batches before the aborted one returns: lane.readPos is already past it, so a
      // later batch read and acknowledged before stop() notices would move the cursor over it.
      this.stopping = true;
      this.stopCtl.abort();
    }
    this.wakeSleep?.();
  }

  private async loop(): Promise<void> {
    const { lane } = this.d;
    while (!this.stopping) {
      try {
        await this.step();
      } catch (err) {
        // Never let one bad read or transport bug stop this output for good.
        this.d.logger.error('output dispatcher error; retrying', { output: lane.name, error: errorMessage(err) });
        // Read again from the last acknowledged position: nothing unresolved is skipped.
        lane.inFlight = false;
        lane.readPos = lane.ackPos;
        await this.sleep(1000);
      }
    }
  }

  private async step(): Promise<void> {
    const { lane } = this.d;
    const batch = await this.collect();
    if (batch === undefined) return;
    // Stopping: what is not in flight stays in the spool for the next run.
    if (this.isStopping() && batch.frames.length > 0) return;
    lane.readPos = batch.end;
    if (batch.frames.length === 0) {
      this.ack(batch.end);
      return;
    }
    lane.inFlight = true;
    lane.oldestTime = batch.frames[0]?.time;
    const unresolved = await this.deliver(batch);
    lane.inFlight = false;
    lane.oldestTime = undefined;
    this.ack(unresolved === undefined ? lane.readPos : batch.starts[unresolved] ?? lane.readPos);
  }

  private ack(pos: Lane['ackPos']): void {
    const { lane } = this.d;
    if (pos.seq <= lane.ackPos.seq) return;
    lane.ackPos = pos;
    if (lane.readPos.seq < pos.seq) lane.readPos = pos;
    this.persistSoon();
  }

  /**
   * Persists the cursor at most once per cursorIntervalMs, not after every batch: a write is a
   * temp file, two fsyncs and a rename, and each one also asks the spool to delete delivered
   * segments; an event storm in small batches would otherwise do that hundreds of times a second.
   * Crash safety: lane.ackPos moves in memory at once; what a crash can cost is only the cursor
   * lagging by up to this interval (plus the write in flight), so the events acknowledged in that
   * window are sent again after a restart: duplicates, never loss (at-least-once). Segments are
   * deleted only behind the persisted cursor, so a lagging cursor never points at a deleted file.
   * A stop (shutdown, reload, removed output) is followed by the owner's own save of lane.ackPos,
   * so a clean stop leaves the exact cursor on disk.
   */
  private persistSoon(): void {
    if (this.cursorTimer !== undefined) return;
    const wait = this.lastCursorSave + this.d.cursorIntervalMs - performance.now();
    if (wait <= 0) {
      this.persist();
      return;
    }
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      this.persist();
    }, wait);
    // The agent's collectors keep the process alive; a pending cursor write must not.
    this.cursorTimer.unref();
  }

  private persist(): void {
    const { lane } = this.d;
    this.lastCursorSave = performance.now();
    lane.cursor.save(lane.ackPos).catch((err: unknown) => {
      // A full or failing disk fails every save: one line per 30 s, not one per batch.
      this.cursorFailures++;
      if (!this.cursorWarning.ready()) return;
      this.d.logger.warn(`cursor write failed (${this.cursorFailures} time(s) so far; events may be sent again after a restart)`, { output: lane.name, error: errorMessage(err) });
    });
  }

  /**
   * Reads the next batch. Called only with no batch in flight, so what is queued goes as soon as
   * the producer has been quiet for batch.linger (Nagle-like), never later than batch.max_wait
   * after its first event, and at once when it is full. Events arriving while a batch is in flight
   * wait in the spool and make the next batch, so batches grow with the backlog by themselves.
   */
  private async collect(): Promise<ReadResult | undefined> {
    const { lane, reader, config } = this.d;
    const { max_events: maxEvents, max_bytes: maxBytes, max_wait: maxWait, linger } = config.batch;
    const gen = lane.generation;
    // Read before the spool read: a write that lands during it must not leave us waiting.
    let seen = lane.notifications;
    const r = await reader.read(lane.readPos, maxEvents, maxBytes);
    if (gen !== lane.generation) return undefined;
    if (r.frames.length === 0) {
      if (r.end.seq === lane.readPos.seq) await lane.waitForNotify(1000, seen);
      return r;
    }
    const deadline = (r.frames[0]?.time ?? this.d.now()) + maxWait;
    let bytes = r.frames.reduce((n, f) => n + f.bytes, 0);
    while (r.frames.length < maxEvents && bytes < maxBytes && !this.stopping && !this.draining) {
      const wait = Math.min(deadline, (r.frames.at(-1)?.time ?? 0) + linger) - this.d.now();
      if (wait <= 0) break;
      await lane.waitForNotify(wait, seen);
      // No write since the last read: the producer went quiet (or max_wait is up).
      if (seen === lane.notifications) break;
      seen = lane.notifications;
      const more = await reader.read(r.end, maxEvents - r.frames.length, maxBytes - bytes);
      if (gen !== lane.generation) return undefined;
      r.frames.push(...more.frames);
      r.starts.push(...more.starts);
      r.end = more.end;
      bytes += more.frames.reduce((n, f) => n + f.bytes, 0);
    }
    return r;
  }

  /** Sends until every event is resolved; returns the index of the first unresolved one if stopped. */
  private async deliver(batch: ReadResult): Promise<number | undefined> {
    const { lane } = this.d;
    const events = batch.frames.map((f) => new SpooledEvent(f.payload));
    let pending = events.map((_, i) => i);
    const settle = (idx: readonly number[]): void => {
      for (const i of idx) {
        lane.queuedEvents--;
        lane.queuedBytes -= batch.frames[i]?.bytes ?? 0;
      }
      const gone = new Set(idx);
      pending = pending.filter((i) => !gone.has(i));
    };
    while (pending.length > 0) {
      if (this.stopping && this.stopCtl.signal.aborted) return pending[0];
      const attempt = this.backoff.open ? pending.slice(0, 1) : pending;
      const result = await this.send(attempt.map((i) => events[i] as SpooledEvent));
      if (this.stopCtl.signal.aborted && result.kind === 'retryable') return pending[0];
      let delay: number | undefined;
      switch (result.kind) {
        case 'ok':
          lane.sent += attempt.length;
          lane.lastDeliveryAt = this.d.now();
          settle(attempt);
          this.recovered();
          break;
        case 'permanent':
          await this.deadLetter(attempt.map((i) => ({ i, reason: result.reason })), events);
          settle(attempt);
          this.recovered();
          break;
        case 'partial': {
          const retry = new Set(result.retry.filter((k) => k >= 0 && k < attempt.length));
          const rejected = result.rejected.filter((r) => r.index >= 0 && r.index < attempt.length && !retry.has(r.index));
          const rejectedIdx = new Set(rejected.map((r) => r.index));
          await this.deadLetter(rejected.map((r) => ({ i: attempt[r.index] ?? 0, reason: r.reason })), events);
          settle(rejected.map((r) => attempt[r.index] ?? 0));
          const done = attempt.filter((_, k) => !retry.has(k) && !rejectedIdx.has(k));
          lane.sent += done.length;
          if (done.length > 0) lane.lastDeliveryAt = this.d.now();
          settle(done);
          if (retry.size === 0) { this.recovered(); break; }
          delay = this.failed('partial', `${retry.size} of ${attempt.length} events to retry`);
          break;
        }
        case 'retryable':
          delay = this.failed(result.reason === 'send timed out' ? 'timeout' : 'retryable', result.reason, result.retryAfterMs);
          break;
        case 'paused':
          delay = this.failed('paused', result.reason);
          if (lane.state !== 'paused') {
            lane.state = 'paused';
            this.d.logger.error('output paused: it refuses our credentials or configuration; events stay queued', { output: lane.name, reason: result.reason });
            this.d.emit({ action: Action.outputPaused, severity: 73, message: `output ${lane.name} paused: ${result.reason}`, fields: { portwarden: { output: { name: lane.name, type: lane.type, reason: result.reason } } } });
          }
          break;
      }
      if (delay !== undefined && pending.length > 0) {
        if (this.stopping) return pending[0];
        await this.sleep(delay);
        if (this.isStopping()) return pending[0];
      }
    }
    return undefined;
  }

  private failed(reason: string, detail: string, retryAfterMs?: number): number {
    const { lane } = this.d;
    if (this.draining) this.drainFailed = true;
    lane.count('failed', reason);
    lane.retries++;
    this.lastReason = detail;
    const delay = this.backoff.next(retryAfterMs);
    if (lane.state !== 'paused') lane.state = this.backoff.open ? 'open' : 'backoff';
    return delay;
  }

  private recovered(): void {
    const { lane } = this.d;
    this.backoff.succeed();
    if (lane.state === 'paused') {
      this.d.logger.info('output resumed', { output: lane.name });
      this.d.emit({ action: Action.outputResumed, message: `output ${lane.name} resumed`, fields: { portwarden: { output: { name: lane.name, type: lane.type } } } });
    }
    lane.state = 'running';
  }

  private async deadLetter(items: { i: number; reason: string }[], events: SpooledEvent[]): Promise<void> {
    const { lane } = this.d;
    if (items.length === 0) return;
    for (;;) {
      try {
        await this.d.deadLetter.write(lane.name, items.map((x) => ({ event: events[x.i] as SpooledEvent, reason: x.reason })));
        break;
      } catch (err) {
        // Never move past an event we could neither deliver nor record.
        this.d.logger.error('dead-letter write failed; retrying', { output: lane.name, error: errorMessage(err) });
        await this.sleep(1000);
        if (this.stopping) throw err;
      }
    }
    lane.deadLettered += items.length;
  }

  private async send(batch: SpooledEvent[]): Promise<SendResult> {
    const ctl = new AbortController();
    const onStop = (): void => { ctl.abort(); };
    this.stopCtl.signal.addEventListener('abort', onStop);
    const timer = setTimeout(() => { ctl.abort(); }, this.d.sendTimeoutMs);
    timer.unref();
    // A transport that ignores the signal is abandoned a second after the abort.
    let grace: NodeJS.Timeout | undefined;
    const abandon = new Promise<SendResult>((resolve) => {
      ctl.signal.addEventListener('abort', () => {
        grace = setTimeout(() => { resolve({ kind: 'retryable', reason: 'send timed out' }); }, 1000);
      });
    });
    try {
      const r = await Promise.race([this.d.transport.send(batch, ctl.signal), abandon]);
      return ctl.signal.aborted && r.kind === 'retryable' && !this.stopCtl.signal.aborted ? { kind: 'retryable', reason: 'send timed out' } : r;
    } catch (err) {
      return { kind: 'retryable', reason: `transport error: ${errorMessage(err)}` };
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      this.stopCtl.signal.removeEventListener('abort', onStop);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wakeSleep = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.wakeSleep = done;
    });
  }
}
