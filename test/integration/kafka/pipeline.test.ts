import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { F } from '../../../agent/ecs/fields.js';
import { sampleBuilder } from '../../../agent/ecs/samples.js';
import { getField } from '../../../agent/ecs/document.js';
import { memoryLogger } from '../../../agent/log/logger.js';
import { heartbeatSchema, metricsSchema, outputCommonShape, spoolSchema } from '../../../agent/pipeline/config.js';
import { createPipeline } from '../../../agent/pipeline/index.js';
import type { Pipeline } from '../../../agent/pipeline/index.js';
import { kafkaConfigSchema } from '../../../transports/kafka/config.js';
import { MockCluster } from '../../../testkit/peers/kafka-mock-cluster.js';
import { kafkaOutput, reservePort } from './drive.js';
import { alertEvent, bigEvent, listenerEvent } from '../../../testkit/samples/kafka.js';
import { waitFor } from '../../helpers/wait.js';

// The kafka output behind the real delivery pipeline (spool, dispatcher, backoff, dead letters).

// In-band agent events come from the real document builder.
const agentEvent = sampleBuilder().builder.agentEvent;

const outputSchema = kafkaConfigSchema.extend(z.strictObject(outputCommonShape).shape);

async function agentWithKafka(t: TestContext, raw: Record<string, unknown>): Promise<{ pipeline: Pipeline; stateDir: string; logs: ReturnType<typeof memoryLogger> }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'pw-kafka-pipeline-'));
  const alive = setInterval(() => undefined, 1000); // the pipeline's timers are unref'd
  const logs = memoryLogger();
  const config = outputSchema.parse({ type: 'kafka', retry: { initial: '200ms', max: '2s' }, batch: { max_wait: '20ms' }, ...raw });
  const transport = kafkaOutput(raw, logs);
  const pipeline = createPipeline({
    stateDir, logger: logs, agentEvent, sendTimeoutMs: 10_000, shutdownTimeoutMs: 5000,
    spool: spoolSchema.parse({}), metrics: metricsSchema.parse({}), heartbeat: heartbeatSchema.parse({ enabled: false }),
    outputs: [{ name: 'kafka', config, transport }],
  });
  t.after(async () => {
    await pipeline.shutdown();
    clearInterval(alive);
    await rm(stateDir, { recursive: true, force: true });
  });
  return { pipeline, stateDir, logs };
}

const idsOf = (docs: readonly EcsDocument[]) => new Set(docs.map((d) => String(getField(d, F.eventId))));
const consumedIds = (c: MockCluster) => new Set(c.messages.map((m) => String(getField(JSON.parse(m.payload), F.eventId))));
const kafkaStats = (p: Pipeline) => p.stats().outputs.find((o) => o.name === 'kafka');

test('pipeline: a hung cluster (SIGSTOP 20 s, then SIGCONT) during a stream loses nothing', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-pipe-hung'] });
  t.after(() => cluster.close());
  const { pipeline } = await agentWithKafka(t, { brokers: cluster.bootstrap, topic: 'siem-pipe-hung', timeout: '2s' });
  await pipeline.start();
  const accepted: EcsDocument[] = [];
  let stop = false;
  const stream = (async () => {
    for (let i = 0; !stop; i++) {
      const doc = i % 5 === 0 ? alertEvent(i) : listenerEvent(i, 3000 + (i % 1000));
      await pipeline.accept(doc);
      accepted.push(doc);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await waitFor('events to flow', () => (kafkaStats(pipeline)?.sent ?? 0) >= 50, 20_000);
  cluster.freeze();
  const frozenAt = Date.now();
  await waitFor('the 20 s freeze', () => Date.now() - frozenAt >= 20_000, 25_000);
  const during = kafkaStats(pipeline);
  assert.ok(during !== undefined && during.state !== 'running' && during.queuedEvents > 0, JSON.stringify(during));
  cluster.thaw();
  const atThaw = accepted.length;
  await waitFor('the stream to go on', () => accepted.length >= atThaw + 50, 20_000);
  stop = true;
  await stream;
  await waitFor('the queue to drain', () => kafkaStats(pipeline)?.queuedEvents === 0, 60_000);
  const want = idsOf(accepted);
  await cluster.waitFor(() => { const got = consumedIds(cluster); return [...want].every((id) => got.has(id)); }, 60_000);
  const s = kafkaStats(pipeline);
  assert.ok(s !== undefined);
  assert.equal(s.deadLettered, 0);
  assert.equal(s.state, 'running');
});

test('pipeline: brokers unreachable at start: the agent runs, spools, reports the output down, stays idle, then delivers', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-pipe-late'] });
  t.after(() => cluster.close());
  const reserved = await reservePort();
  const { pipeline } = await agentWithKafka(t, { brokers: [`127.0.0.1:${String(reserved.port)}`], topic: 'siem-pipe-late', timeout: '2s' });
  const t0 = Date.now();
  await pipeline.start();
  assert.ok(Date.now() - t0 < 2000, 'start-up does not wait for Kafka');
  const docs = Array.from({ length: 100 }, (_, i) => listenerEvent(i, 4000 + i));
  for (const d of docs) await pipeline.accept(d);
  const cpu0 = process.cpuUsage();
  const wall0 = Date.now();
  await waitFor('4 s of outage', () => Date.now() - wall0 >= 4000, 10_000);
  const cpu = process.cpuUsage(cpu0);
  const share = (cpu.user + cpu.system) / 1000 / (Date.now() - wall0);
  const s = kafkaStats(pipeline);
  assert.ok(s !== undefined && (s.state === 'backoff' || s.state === 'open'), JSON.stringify(s));
  assert.ok(s.queuedEvents >= 100, 'the events are spooled');
  assert.equal(s.sent, 0);
  assert.ok(share < 0.3, `CPU ${share.toFixed(2)} of a core while brokers are away`);
  const proxy = await reserved.open(cluster.bootstrap[0] ?? '');
  t.after(() => new Promise((r) => proxy.close(r)));
  await cluster.waitFor(() => { const got = consumedIds(cluster); return [...idsOf(docs)].every((id) => got.has(id)); }, 60_000);
});

test('pipeline: an event over max_message_bytes goes to the dead-letter file with its reason; the rest flows', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-pipe-big'] });
  t.after(() => cluster.close());
  const { pipeline, stateDir } = await agentWithKafka(t, { brokers: cluster.bootstrap, topic: 'siem-pipe-big', max_message_bytes: '16KiB', timeout: '3s' });
  await pipeline.start();
  const big = bigEvent(40_000);
  const docs = [listenerEvent(0), alertEvent(1), big, listenerEvent(2), alertEvent(0)];
  for (const d of docs) await pipeline.accept(d);
  const rest = docs.filter((d) => d !== big);
  await cluster.waitFor(() => { const got = consumedIds(cluster); return [...idsOf(rest)].every((id) => got.has(id)); });
  await waitFor('the dead letter', () => kafkaStats(pipeline)?.deadLettered === 1, 10_000);
  const lines = (await readFile(join(stateDir, 'dead-letter', 'kafka.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { reason: string; event: EcsDocument });
  assert.equal(lines.length, 1);
  assert.equal(getField(lines[0]?.event, F.eventId), big.event.id);
  assert.match(lines[0]?.reason ?? '', /larger than max_message_bytes \(16384\)/);
  assert.ok(!consumedIds(cluster).has(big.event.id));
});
