/**
 * The small producer interface the Kafka output needs, so the client library behind it (kafkajs
 * today, a librdkafka binding such as @confluentinc/kafka-javascript tomorrow) can be replaced
 * without touching the encoder, the sender or the pipeline.
 */

/** One record: the key decides the partition (same key, same partition, same order). */
export interface KafkaRecord {
  readonly key: string | null;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface TopicRecords {
  readonly topic: string;
  readonly messages: readonly KafkaRecord[];
}

export interface ProduceOptions {
  /** -1 all in-sync replicas, 1 the leader, 0 fire and forget. */
  readonly acks: -1 | 0 | 1;
  /** Broker-side ack timeout and client request timeout, ms. */
  readonly timeoutMs: number;
  readonly compression: 'none' | 'gzip';
}

export interface ClusterInfo {
  readonly brokers: number;
  /** Topics asked about that the cluster knows, with their partition counts. */
  readonly topics: Readonly<Record<string, number>>;
}

/**
 * A Kafka producer. `sendBatch` resolves once every record is acknowledged per `acks` and rejects
 * with a KafkaClientError otherwise (some records may have been written: the caller re-sends, and
 * consumers deduplicate by `event.id`). The client never retries on its own. `connect` and
 * `metadata` may be called again after a failure. `disconnect` is idempotent.
 */
export interface KafkaProducerClient {
  connect(): Promise<void>;
  sendBatch(batch: readonly TopicRecords[], opts: ProduceOptions): Promise<void>;
  /** Health check: ask the cluster about `topics` (no auto-creation side effects required). */
  metadata(topics: readonly string[]): Promise<ClusterInfo>;
  disconnect(): Promise<void>;
}

/**
 * What went wrong, in terms any Kafka client can map its errors to:
 * - unavailable: no broker reachable, connection refused or closed, leader not available.
 * - not_leader: stale metadata (leadership moved); a metadata refresh fixes it.
 * - timeout: the request or the broker's ack timed out; some records may have been written.
 * - too_large: the broker refused a record (or the record batch) as larger than it accepts.
 * - authentication: SASL mechanism or credentials refused.
 * - authorization: topic or cluster ACLs refuse this principal.
 * - unknown_topic: the topic does not exist and will not be auto-created.
 * - tls: the broker's certificate is not acceptable or the handshake is refused.
 * - config: our own configuration cannot work (unreadable TLS files, invalid topic name).
 * - other: anything else; treated as transient.
 */
export type KafkaFailure =
  | 'unavailable'
  | 'not_leader'
  | 'timeout'
  | 'too_large'
  | 'authentication'
  | 'authorization'
  | 'unknown_topic'
  | 'tls'
  | 'config'
  | 'other';

export class KafkaClientError extends Error {
  readonly failure: KafkaFailure;
  /** The client's or the protocol's own error name (e.g. MESSAGE_TOO_LARGE), for the logs. */
  readonly detail: string;

  constructor(failure: KafkaFailure, detail: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'KafkaClientError';
    this.failure = failure;
    this.detail = detail;
  }
}
