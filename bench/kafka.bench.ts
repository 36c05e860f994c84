import { cpus, loadavg } from 'node:os';
import kafkajs from 'kafkajs';
import type { Producer } from 'kafkajs';
import type { BenchTable } from './harness.js';
import { cpuMs } from './harness.js';
import { silentLogger } from '../agent/log/logger.js';
import type { OutboundEvent } from '../transports/types.js';
import { kafkaConfigSchema } from '../transports/kafka/config.js';
import { createKafkaTransport } from '../transports/kafka/create.js';
import type { KafkaTransport } from '../transports/kafka/index.js';
import { MockCluster } from '../testkit/peers/kafka-mock-cluster.js';
import { listenerEvent, outbound } from '../testkit/samples/kafka.js';

const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;
const BATCH = 500;
const BATCHES = 16;
const ROUNDS = 5;
const TOPIC = 'bench-kafka';

type Timed = { ms: number; wallMs: number };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The reference: the smallest kafkajs program that produces the same records with the same settings. */
async function rawProducer(brokers: string[]): Promise<Producer> {
  const kafka = new Kafka({ clientId: 'bench-raw', brokers, retry: { retries: 0 }, logLevel: logLevel.NOTHING });
  const p = kafka.producer({ idempotent: false, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 0 } });
  await p.connect();
  return p;
}

async function rawRun(p: Producer, batches: readonly OutboundEvent[][], gzip: boolean): Promise<void> {
  for (const b of batches) {
    await p.sendBatch({
      acks: -1, timeout: 10_000, compression: gzip ? CompressionTypes.GZIP : CompressionTypes.None,
      topicMessages: [{
        topic: TOPIC,
        messages: b.map((e) => ({
          key: (e.doc.host as { id: string }).id, value: e.json,
          headers: { 'event.dataset': e.doc.event.dataset, 'event.kind': e.doc.event.kind },
        })),
      }],
    });
  }
}

async function oursRun(t: KafkaTransport, batches: readonly OutboundEvent[][]): Promise<void> {
  for (const b of batches) {
    const r = await t.send(b, new AbortController().signal);
    if (r.kind !== 'ok') throw new Error(`kafka bench: send returned ${JSON.stringify(r)}`);
  }
}

/** events/s through our kafka output vs a raw kafkajs sendBatch loop, same records, same mock cluster. */
export default async function kafkaBench(): Promise<BenchTable[]> {
  // kcat consumes another topic so it does not spend the machine's CPU printing what we produce.
  const cluster = await MockCluster.start({ topics: ['bench-idle'] });
  const rows: (string | number)[][] = [];
  const ratios: number[] = [];
  try {
    const batches = Array.from({ length: BATCHES }, (_, i) => Array.from({ length: BATCH }, (_, j) => outbound(listenerEvent(j % 3, 1024 + i))));
    const events = BATCH * BATCHES;
    const avgBytes = Math.round(batches.flat().reduce((n, e) => n + e.json.length, 0) / events);
    for (const gzip of [true, false]) {
      const raw = await rawProducer(cluster.bootstrap);
      const cfg = kafkaConfigSchema.parse({ type: 'kafka', brokers: cluster.bootstrap, topic: TOPIC, compression: gzip ? 'gzip' : 'none' });
      const ours = createKafkaTransport(cfg, { name: 'kafka', logger: silentLogger, stateDir: '.', configFile: 'bench', agentPid: process.pid, hostName: 'bench' });
      await ours.start();
      await rawRun(raw, batches.slice(0, 2), gzip); // warm-up: connections, metadata, JIT
      await oursRun(ours, batches.slice(0, 2));
      const wall: { raw: number; ours: number }[] = [];
      const cpu = { raw: 0, ours: 0 };
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate who goes first so drift in the machine's load hits both sides alike.
        const runRaw = () => cpuMs(() => rawRun(raw, batches, gzip));
        const runOurs = () => cpuMs(() => oursRun(ours, batches));
        let a: Timed;
        let b: Timed;
        if (r % 2 === 0) {
          a = await runRaw();
          b = await runOurs();
        } else {
          b = await runOurs();
          a = await runRaw();
        }
        wall.push({ raw: a.wallMs, ours: b.wallMs });
        cpu.raw += a.ms;
        cpu.ours += b.ms;
      }
      await ours.shutdown();
      await raw.disconnect();
      const rawEps = events / (median(wall.map((w) => w.raw)) / 1000);
      const oursEps = events / (median(wall.map((w) => w.ours)) / 1000);
      const ratio = median(wall.map((w) => w.raw / w.ours));
      ratios.push(ratio);
      const label = gzip ? 'gzip' : 'none';
      const perK = (ms: number) => (ms / ROUNDS / events * 1000).toFixed(0);
      rows.push([`raw kafkajs sendBatch (${label})`, Math.round(rawEps), perK(cpu.raw), '1.00', '1.00']);
      rows.push([`portwarden kafka output (${label})`, Math.round(oursEps), perK(cpu.ours), ratio.toFixed(2), (cpu.raw / cpu.ours).toFixed(2)]);
    }
    return [{
      title: `Kafka output vs raw kafkajs: ${String(BATCH * BATCHES)} events (~${String(avgBytes)} B JSON) in batches of ${String(BATCH)}, librdkafka mock cluster (3 brokers, acks all), ${String(ROUNDS)} interleaved rounds`,
      columns: ['producer', 'events/s (median)', 'CPU ms / 1k events', 'ratio (median of rounds)', 'CPU ratio'],
      rows,
      notes: [
        `Target: ratio >= 0.8; measured ${ratios.map((x) => x.toFixed(2)).join(' (gzip), ')} (none). ${String(cpus().length)} CPUs, load ${loadavg()[0]?.toFixed(2) ?? '?'}; the mock cluster (kcat) shares the machine.`,
      ],
    }];
  } finally {
    await cluster.close();
  }
}
