import { errorMessage } from '../../agent/util/errors.js';
import type { OutboundEvent, SendResult } from '../types.js';
import { KafkaClientError } from './client.js';
import type { KafkaProducerClient, ProduceOptions, TopicRecords } from './client.js';
import type { EncodeOptions } from './encoder.js';
import { encodeBatch } from './encoder.js';

/** What the pipeline should do about a failed produce, from the failure's class. */
export function classifyFailure(err: KafkaClientError): SendResult {
  const reason = `${err.failure} (${err.detail}): ${err.message}`;
  switch (err.failure) {
    case 'unavailable':
    case 'not_leader':
    case 'timeout':
    case 'other':
      return { kind: 'retryable', reason };
    case 'too_large':
      return { kind: 'permanent', reason };
    case 'authentication':
    case 'authorization':
    case 'unknown_topic':
    case 'tls':
    case 'config':
      return { kind: 'paused', reason };
  }
}

type Outcome<T> = { done: true; value: T } | { done: false; why: string };

/** Waits for `p` at most `ms` and no longer than `signal`; never rejects. */
export function within<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<Outcome<T | Error>> {
  return new Promise((resolve) => {
    const finish = (o: Outcome<T | Error>) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => { finish({ done: false, why: 'aborted' }); };
    const timer = setTimeout(() => { finish({ done: false, why: `no answer within ${String(ms)} ms` }); }, ms);
    timer.unref();
    if (signal.aborted) { finish({ done: false, why: 'aborted' }); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((value) => { finish({ done: true, value }); }, (err: unknown) => {
      finish({ done: true, value: err instanceof Error ? err : new Error(errorMessage(err)) });
    });
  });
}

/** Any error as a KafkaClientError (unknown ones count as `other`, i.e. transient). */
export function asClientError(err: Error): KafkaClientError {
  return err instanceof KafkaClientError ? err : new KafkaClientError('other', err.name, err.message, err);
}

/**
 * Encodes a batch and produces it with at most one request in flight: a send that timed out or was
 * aborted keeps its slot until the client settles, so a hung cluster never piles up requests.
 * Never throws, never sleeps, never retries a transient failure itself.
 */
export class KafkaSender {
  private inflight: Promise<unknown> | undefined;

  constructor(
    private readonly client: KafkaProducerClient,
    private readonly encode: EncodeOptions,
    private readonly produce: ProduceOptions,
  ) {}

  /** Resolves once nothing is in flight, or after `ms`; true when idle. */
  async idle(ms: number, signal: AbortSignal = new AbortController().signal): Promise<boolean> {
    const p = this.inflight;
    if (p === undefined) return true;
    return (await within(p, ms, signal)).done;
  }

  private produceOnce(topics: readonly TopicRecords[], signal: AbortSignal): Promise<Outcome<undefined | Error>> {
    const p = this.client.sendBatch(topics, this.produce).then(() => undefined);
    const tracked = p.then(() => undefined, () => undefined).finally(() => {
      if (this.inflight === tracked) this.inflight = undefined;
    });
    this.inflight = tracked;
    return within(p, this.produce.timeoutMs, signal);
  }

  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    if (batch.length === 0) return { kind: 'ok' };
    const deadline = Date.now() + this.produce.timeoutMs;
    if (!(await this.idle(this.produce.timeoutMs, signal))) {
      return { kind: 'retryable', reason: signal.aborted ? 'aborted' : 'previous send to kafka still unanswered' };
    }
    const enc = encodeBatch(batch, this.encode);
    if (enc.topics.length === 0) return { kind: 'partial', retry: [], rejected: enc.rejected };
    const out = await this.produceOnce(enc.topics, signal);
    if (!out.done) return { kind: 'retryable', reason: `kafka: ${out.why}` };
    if (out.value === undefined) {
      return enc.rejected.length === 0 ? { kind: 'ok' } : { kind: 'partial', retry: [], rejected: enc.rejected };
    }
    const failure = asClientError(out.value);
    const verdict = classifyFailure(failure);
    const records = enc.indices.reduce((n, ix) => n + ix.length, 0);
    if (failure.failure === 'too_large' && records > 1) return this.oneByOne(enc.topics, enc.indices, enc.rejected, deadline, signal);
    if (verdict.kind === 'permanent' && enc.rejected.length > 0) {
      return { kind: 'partial', retry: [], rejected: [...enc.rejected, ...enc.indices.flat().map((index) => ({ index, reason: verdict.reason }))] };
    }
    if (verdict.kind === 'retryable' && enc.rejected.length > 0) {
      return { kind: 'partial', retry: enc.indices.flat(), rejected: enc.rejected };
    }
    return verdict;
  }

  /**
   * The broker refused a record batch as too large (its limit is below our max_message_bytes):
   * find the culprits by producing the records one at a time, until the send's deadline.
   */
  private async oneByOne(
    topics: readonly TopicRecords[], indices: readonly number[][],
    rejected: { index: number; reason: string }[], deadline: number, signal: AbortSignal,
  ): Promise<SendResult> {
    const retry: number[] = [];
    let stop: SendResult | undefined;
    for (const [ti, t] of topics.entries()) {
      for (const [mi, m] of t.messages.entries()) {
        const index = indices[ti]?.[mi] ?? -1;
        if (stop !== undefined || Date.now() >= deadline) { retry.push(index); continue; }
        const out = await this.produceOnce([{ topic: t.topic, messages: [m] }], signal);
        if (!out.done) { stop = { kind: 'retryable', reason: out.why }; retry.push(index); continue; }
        if (out.value === undefined) continue;
        const verdict = classifyFailure(asClientError(out.value));
        if (verdict.kind === 'permanent') rejected.push({ index, reason: verdict.reason });
        else { stop = verdict; retry.push(index); }
      }
    }
    // A pause outranks what was learnt: those records come around again once the output resumes.
    if (stop?.kind === 'paused') return stop;
    return { kind: 'partial', retry, rejected };
  }
}
