import type { ClusterInfo, KafkaProducerClient, ProduceOptions, TopicRecords } from './client.js';

/**
 * An in-memory KafkaProducerClient for tests of the sender and the transport: records every
 * produce call and answers with `behaviour` (resolve = acknowledged, reject = that failure).
 */
export class FakeKafkaClient implements KafkaProducerClient {
  readonly calls: { batch: readonly TopicRecords[]; opts: ProduceOptions }[] = [];
  connects = 0;
  disconnects = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    public behaviour: (batch: readonly TopicRecords[], call: number) => Promise<void> = () => Promise.resolve(),
    public info: () => Promise<ClusterInfo> = () => Promise.resolve({ brokers: 3, topics: {} }),
  ) {}

  connect(): Promise<void> {
    this.connects += 1;
    return Promise.resolve();
  }

  async sendBatch(batch: readonly TopicRecords[], opts: ProduceOptions): Promise<void> {
    this.calls.push({ batch, opts });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.behaviour(batch, this.calls.length - 1);
    } finally {
      this.inFlight -= 1;
    }
  }

  metadata(): Promise<ClusterInfo> {
    return this.info();
  }

  disconnect(): Promise<void> {
    this.disconnects += 1;
    return Promise.resolve();
  }

  /** Every record value produced so far, in order. */
  values(): string[] {
    return this.calls.flatMap((c) => c.batch.flatMap((t) => t.messages.map((m) => m.value)));
  }
}
