import type { Logger } from '../../agent/log/logger.js';
import { errorMessage } from '../../agent/util/errors.js';
import type { OutboundEvent, SendResult, Transport } from '../types.js';
import type { ClusterInfo, KafkaProducerClient } from './client.js';
import type { KafkaConfig } from './config.js';
import { KafkaSender, asClientError, within } from './sender.js';

export type KafkaHealth = 'unknown' | 'up' | 'down' | 'paused';

/**
 * The `kafka` output. `start()` returns at once: connecting and the metadata health check run in
 * the background and are logged; until the brokers answer, `send` resolves `retryable` within
 * `timeout` and the pipeline keeps the events spooled. Logs a line when the output goes down or
 * comes back, never one per failed batch. `shutdown()` waits (bounded) for the send in flight.
 */
export class KafkaTransport implements Transport {
  readonly type = 'kafka';
  private readonly sender: KafkaSender;
  private state: KafkaHealth = 'unknown';
  private closed = false;
  private checking: Promise<void> | undefined;

  constructor(private readonly cfg: KafkaConfig, private readonly client: KafkaProducerClient, private readonly logger: Logger) {
    this.sender = new KafkaSender(client, {
      topic: cfg.topic, keyField: cfg.key, maxMessageBytes: cfg.max_message_bytes,
    }, { acks: cfg.acks, timeoutMs: cfg.timeout, compression: cfg.compression });
  }

  /** The last known state of the brokers, for status reports. */
  health(): KafkaHealth {
    return this.state;
  }

  start(): Promise<void> {
    if (this.cfg.sasl !== undefined && this.cfg.tls === undefined) {
      this.logger.warn('kafka: SASL without tls sends credentials and events in clear', { mechanism: this.cfg.sasl.mechanism });
    }
    this.checking = this.healthCheck().then(() => undefined).finally(() => { this.checking = undefined; });
    return Promise.resolve();
  }

  /** Connects and asks the cluster for its brokers (and the topic, when it has no placeholder). */
  async healthCheck(): Promise<ClusterInfo | undefined> {
    const topics = this.cfg.topic.includes('{') ? [] : [this.cfg.topic];
    const work = (async () => {
      await this.client.connect();
      return this.client.metadata(topics);
    })();
    const out = await within(work, this.cfg.timeout, new AbortController().signal);
    if (!out.done) {
      this.mark('down', `no answer within ${String(this.cfg.timeout)} ms`);
      return undefined;
    }
    if (out.value instanceof Error) {
      const e = asClientError(out.value);
      const paused = e.failure === 'authentication' || e.failure === 'authorization' || e.failure === 'tls' || e.failure === 'config';
      this.mark(paused ? 'paused' : 'down', `${e.failure}: ${e.message}`);
      return undefined;
    }
    const info = out.value;
    this.mark('up', `${String(info.brokers)} broker(s)`, { brokers: info.brokers, topics: info.topics });
    return info;
  }

  private mark(next: KafkaHealth, why: string, meta: Record<string, unknown> = {}): void {
    if (next === this.state) return;
    const prev = this.state;
    this.state = next;
    const base = { brokers: this.cfg.brokers, ...meta };
    if (next === 'up') this.logger.info(`kafka output ${prev === 'unknown' ? 'connected' : 'recovered'}: ${why}`, base);
    else if (next === 'paused') this.logger.error(`kafka output paused: ${why}`, base);
    else if (next === 'down') this.logger.warn(`kafka output down, events stay spooled: ${why}`, base);
  }

  async send(batch: readonly OutboundEvent[], signal: AbortSignal): Promise<SendResult> {
    if (this.closed) return { kind: 'retryable', reason: 'kafka output is shut down' };
    let result: SendResult;
    try {
      result = await this.sender.send(batch, signal);
    } catch (err) {
      result = { kind: 'retryable', reason: errorMessage(err) };
    }
    if (result.kind === 'ok' || result.kind === 'permanent' || (result.kind === 'partial' && result.retry.length === 0)) {
      this.mark('up', 'batch delivered');
    } else if (result.kind === 'paused') {
      this.mark('paused', result.reason);
    } else if (result.kind === 'retryable' && result.reason !== 'aborted') {
      this.mark('down', result.reason);
    }
    return result;
  }

  async flush(): Promise<void> {
    await this.sender.idle(this.cfg.timeout);
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const never = new AbortController().signal;
    await this.sender.idle(this.cfg.timeout, never);
    if (this.checking !== undefined) await within(this.checking, this.cfg.timeout, never);
    await within(this.client.disconnect(), this.cfg.timeout, never);
    this.state = 'unknown';
  }
}
