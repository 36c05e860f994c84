import type { OutboundEvent, SendResult, Transport } from '../types.js';

/**
 * What the memory transport answers to one send. `hang` never answers until the pipeline aborts
 * the send (then: retryable). `partial` indices beyond the batch are ignored.
 */
export type MemoryStep =
  | { kind: 'ok' }
  | { kind: 'retryable'; retryAfterMs?: number }
  | { kind: 'permanent'; reason?: string }
  | { kind: 'partial'; retry: number[]; rejected: number[] }
  | { kind: 'paused'; reason?: string }
  | { kind: 'hang' };

export type MemoryBehaviour = (batch: readonly OutboundEvent[], call: number) => MemoryStep;

/**
 * A test double for an output, in the source tree so every layer can use it: it records what
 * was delivered and answers each send from a script (queued steps first, then a behaviour).
 * Test-only: not in the transport registry, so users cannot configure it.
 */
export class MemoryTransport implements Transport {
  readonly type = 'memory';
  /** Every event acknowledged (ok, or the non-failed part of a partial), in delivery order. */
  readonly delivered: OutboundEvent[] = [];
  /** Sizes of every batch the pipeline sent. */
  readonly batches: number[] = [];
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  started = false;
  stopped = false;
  private readonly steps: MemoryStep[] = [];
  private behaviour: MemoryBehaviour = () => ({ kind: 'ok' });
  private waiters: (() => void)[] = [];

  /** Queues answers for the next sends. */
  push(...steps: MemoryStep[]): this {
    this.steps.push(...steps);
    return this;
  }

  /** Answers every send without a queued step (default: ok). */
  behave(fn: MemoryBehaviour): this {
    this.behaviour = fn;
    return this;
  }

  start(): Promise<void> {
    this.started = true;
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    const call = this.calls++;
    this.batches.push(batch.length);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const step = this.steps.shift() ?? this.behaviour(batch, call);
      return await this.answer(step, batch, signal);
    } finally {
      this.inFlight--;
      for (const w of this.waiters.splice(0)) w();
    }
  }

  private answer(step: MemoryStep, batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> | SendResult {
    switch (step.kind) {
      case 'ok':
        this.delivered.push(...batch);
        return { kind: 'ok' };
      case 'retryable':
        return step.retryAfterMs === undefined ? { kind: 'retryable', reason: 'memory: retryable' } : { kind: 'retryable', reason: 'memory: retryable', retryAfterMs: step.retryAfterMs };
      case 'permanent':
        return { kind: 'permanent', reason: step.reason ?? 'memory: rejected' };
      case 'paused':
        return { kind: 'paused', reason: step.reason ?? 'memory: 401 unauthorized' };
      case 'partial': {
        const retry = [...new Set(step.retry.filter((i) => i >= 0 && i < batch.length))];
        const rejected = [...new Set(step.rejected.filter((i) => i >= 0 && i < batch.length && !retry.includes(i)))];
        batch.forEach((e, i) => { if (!retry.includes(i) && !rejected.includes(i)) this.delivered.push(e); });
        return { kind: 'partial', retry, rejected: rejected.map((index) => ({ index, reason: 'memory: item rejected' })) };
      }
      case 'hang':
        return new Promise((resolve) => {
          const done = (): void => { resolve({ kind: 'retryable', reason: 'aborted' }); };
          if (signal.aborted) done();
          else signal.addEventListener('abort', done, { once: true });
        });
    }
  }

  /** Resolves once `cond()` holds, re-checking after every send; rejects after `timeoutMs`. */
  async waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('memory transport: condition not met in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}
