import kafkajs from 'kafkajs';
import type { Admin, ISocketFactory, KafkaConfig as KafkaJsConfig, LogEntry, Producer, SASLOptions } from 'kafkajs';
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../../agent/log/logger.js';
import { tlsClientOptions } from '../shared/tls.js';
import type { ClusterInfo, KafkaProducerClient, ProduceOptions, TopicRecords } from './client.js';
import type { KafkaConfig } from './config.js';
import { fromKafkaJsError } from './kafkajs-errors.js';

const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;

/** kafkajs log fields that are safe and useful; everything else (request payloads, sasl) is dropped. */
const SAFE_LOG_FIELDS = ['broker', 'clientId', 'error', 'retryCount', 'retryTime', 'topic', 'correlationId'];

/** Routes kafkajs's own logs to ours, warnings and errors only, without secrets. */
export function kafkaJsLogCreator(logger: Logger, secrets: readonly string[]) {
  const scrub = (text: string): string => secrets.reduce((t, s) => (s === '' ? t : t.split(s).join('***')), text);
  return () => (entry: LogEntry): void => {
    const meta: Record<string, unknown> = { kafkajs: entry.namespace };
    for (const k of SAFE_LOG_FIELDS) {
      const v: unknown = entry.log[k];
      if (typeof v === 'string' || typeof v === 'number') meta[k] = typeof v === 'string' ? scrub(v) : v;
    }
    const message = `kafka client: ${scrub(entry.log.message)}`;
    if (entry.level === logLevel.ERROR) logger.error(message, meta);
    else if (entry.level === logLevel.WARN) logger.warn(message, meta);
  };
}

/**
 * kafkajs's own socket factory plus TCP_NODELAY (as the Java client sets it): with Nagle on, the
 * tail of a produce request larger than one segment waits for the broker's (delayed) ACK of the
 * rest, a fixed 40 ms or more per batch on a real network.
 */
export const noDelaySocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  // kafkajs passes a falsy ssl for plaintext brokers.
  const socket = (ssl as ConnectionOptions | null | undefined)
    ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect)
    : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

function saslOptions(cfg: KafkaConfig): SASLOptions | undefined {
  const s = cfg.sasl;
  if (s === undefined) return undefined;
  return { mechanism: s.mechanism, username: s.username, password: s.password };
}

async function sslOptions(cfg: KafkaConfig): Promise<ConnectionOptions | undefined> {
  if (cfg.tls === undefined) return undefined;
  const first = cfg.brokers[0] ?? 'localhost:9093';
  const opts = await tlsClientOptions(cfg.tls, cfg.tls.server_name ?? first.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
  if (cfg.tls.server_name === undefined) {
    // kafkajs sets SNI per broker from each broker's advertised host; keep that.
    delete opts.servername;
    delete opts.checkServerIdentity;
  }
  return opts;
}

/**
 * The kafkajs implementation of KafkaProducerClient: retries off (the pipeline retries),
 * idempotence off (experimental in kafkajs; consumers dedup by event.id), Java-compatible murmur2
 * partitioner, request timeout = the output's `timeout`.
 */
export class KafkaJsClient implements KafkaProducerClient {
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private building: Promise<{ producer: Producer; admin: Admin }> | undefined;
  private connecting: Promise<void> | undefined;
  private connected = false;

  constructor(private readonly cfg: KafkaConfig, private readonly logger: Logger) {}

  private build(): Promise<{ producer: Producer; admin: Admin }> {
    this.building ??= this.make().catch((err: unknown) => {
      this.building = undefined;
      throw err;
    });
    return this.building;
  }

  private async make(): Promise<{ producer: Producer; admin: Admin }> {
    const ssl = await sslOptions(this.cfg);
    const sasl = saslOptions(this.cfg);
    const conf: KafkaJsConfig = {
      clientId: this.cfg.client_id,
      brokers: this.cfg.brokers,
      connectionTimeout: Math.min(this.cfg.timeout, 5000),
      authenticationTimeout: Math.min(this.cfg.timeout, 10_000),
      requestTimeout: this.cfg.timeout,
      enforceRequestTimeout: true,
      retry: { retries: 0 },
      logLevel: logLevel.WARN,
      socketFactory: noDelaySocketFactory,
      logCreator: kafkaJsLogCreator(this.logger, sasl === undefined ? [] : [this.cfg.sasl?.password ?? '']),
    };
    if (ssl !== undefined) conf.ssl = ssl;
    if (sasl !== undefined) conf.sasl = sasl;
    const kafka = new Kafka(conf);
    this.producer = kafka.producer({
      idempotent: false,
      allowAutoTopicCreation: this.cfg.allow_auto_topic_creation,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 0 },
    });
    this.admin = kafka.admin({ retry: { retries: 0 } });
    return { producer: this.producer, admin: this.admin };
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    this.connecting ??= (async () => {
      try {
        const { producer } = await this.build();
        await producer.connect();
        this.connected = true;
      } catch (err) {
        throw fromKafkaJsError(err, this.cfg.allow_auto_topic_creation);
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  async sendBatch(batch: readonly TopicRecords[], opts: ProduceOptions): Promise<void> {
    await this.connect();
    const producer = this.producer;
    if (producer === undefined) throw fromKafkaJsError(new Error('producer not connected'), true);
    try {
      await producer.sendBatch({
        acks: opts.acks,
        timeout: opts.timeoutMs,
        compression: opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        topicMessages: batch.map((t) => ({
          topic: t.topic,
          messages: t.messages.map((m) => ({ key: m.key, value: m.value, headers: { ...m.headers } })),
        })),
      });
    } catch (err) {
      throw fromKafkaJsError(err, this.cfg.allow_auto_topic_creation);
    }
  }

  async metadata(topics: readonly string[]): Promise<ClusterInfo> {
    try {
      const { admin } = await this.build();
      await admin.connect();
      const cluster = await admin.describeCluster();
      const known: Record<string, number> = {};
      if (topics.length > 0) {
        const existing = new Set(await admin.listTopics());
        const wanted = topics.filter((t) => existing.has(t));
        if (wanted.length > 0) {
          for (const t of (await admin.fetchTopicMetadata({ topics: wanted })).topics) known[t.name] = t.partitions.length;
        }
      }
      return { brokers: cluster.brokers.length, topics: known };
    } catch (err) {
      throw fromKafkaJsError(err, this.cfg.allow_auto_topic_creation);
    }
  }

  async disconnect(): Promise<void> {
    const { producer, admin } = this;
    this.connected = false;
    await Promise.allSettled([producer?.disconnect(), admin?.disconnect()]);
  }
}
