import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { KafkaClientError } from '../../../../transports/kafka/client.js';
import type { TopicRecords } from '../../../../transports/kafka/client.js';
import { kafkaConfigSchema } from '../../../../transports/kafka/config.js';
import { FakeKafkaClient } from '../../../../transports/kafka/fake-client.js';
import { createKafkaTransport } from '../../../../transports/kafka/create.js';
import type { OutboundEvent } from '../../../../transports/types.js';
import { alertEvent, bigEvent, listenerEvent, outbound } from '../../../../testkit/samples/kafka.js';

// The transport's timers are unref'd (they must not keep an agent alive); a hung fake client holds
// no handle either, so keep the loop alive while these tests wait on those timers.
const keepAlive = setInterval(() => undefined, 60_000);
after(() => { clearInterval(keepAlive); });

function setup(client: FakeKafkaClient, raw: Record<string, unknown> = {}) {
  const logger = memoryLogger();
  const cfg = kafkaConfigSchema.parse({ type: 'kafka', brokers: ['127.0.0.1:9092'], timeout: 300, ...raw });
  const t = createKafkaTransport(cfg, { name: 'kafka', logger, stateDir: '.', configFile: 'x.yaml', agentPid: 1, hostName: 'h' }, client);
  return { t, logger };
}
const signal = () => new AbortController().signal;
const batch = (n: number): OutboundEvent[] => Array.from({ length: n }, (_, i) => outbound(i % 2 === 0 ? listenerEvent(i) : alertEvent(i)));
const hasValue = (b: readonly TopicRecords[], needle: string) => b.some((t) => t.messages.some((m) => m.value.includes(needle)));

test('ok: one produce call grouped by topic, with the configured acks, compression and timeout', async () => {
  const client = new FakeKafkaClient();
  const { t } = setup(client, { compression: 'none', acks: 1 });
  const r = await t.send(batch(4), signal());
  assert.deepEqual(r, { kind: 'ok' });
  assert.equal(client.calls.length, 1);
  const [call] = client.calls;
  assert.ok(call);
  assert.deepEqual(call.opts, { acks: 1, timeoutMs: 300, compression: 'none' });
  assert.deepEqual(call.batch.map((b) => [b.topic, b.messages.length]), [['portwarden.network', 2], ['portwarden.alerts', 2]]);
});

test('a hung produce keeps its slot: the next send does not start a second request', async () => {
  let release: () => void = () => undefined;
  const client = new FakeKafkaClient(() => new Promise<void>((r) => { release = r; }));
  const { t } = setup(client);
  const first = await t.send(batch(2), signal());
  assert.equal(first.kind, 'retryable');
  assert.match((first as { reason: string }).reason, /no answer within 300 ms/);
  const second = await t.send(batch(2), signal());
  assert.deepEqual(second, { kind: 'retryable', reason: 'previous send to kafka still unanswered' });
  assert.equal(client.calls.length, 1);
  release();
  client.behaviour = () => Promise.resolve();
  assert.deepEqual(await t.send(batch(2), signal()), { kind: 'ok' });
  assert.equal(client.maxInFlight, 1);
  assert.equal(t.health(), 'up');
});

test('abort resolves retryable at once', async () => {
  const client = new FakeKafkaClient(() => new Promise<void>(() => undefined));
  const { t } = setup(client, { timeout: '1m' });
  const ac = new AbortController();
  const p = t.send(batch(1), ac.signal);
  ac.abort();
  assert.deepEqual(await p, { kind: 'retryable', reason: 'kafka: aborted' });
});

test('broker MESSAGE_TOO_LARGE on a batch: records are produced one by one and only the culprit is rejected', async () => {
  const client = new FakeKafkaClient((b) => (hasValue(b, 'xxxxxxxx')
    ? Promise.reject(new KafkaClientError('too_large', 'MESSAGE_TOO_LARGE', 'The request included a message larger than the max message size the server will accept'))
    : Promise.resolve()));
  const { t } = setup(client);
  const events = [...batch(2), outbound(bigEvent(3000)), ...batch(2)];
  const r = await t.send(events, signal());
  assert.equal(r.kind, 'partial');
  assert.deepEqual((r as { retry: number[] }).retry, []);
  assert.deepEqual((r as { rejected: { index: number; reason: string }[] }).rejected.map((x) => x.index), [2]);
  assert.match((r as { rejected: { reason: string }[] }).rejected[0]?.reason ?? '', /too_large \(MESSAGE_TOO_LARGE\)/);
  const delivered = client.calls.slice(1).filter((c) => !hasValue(c.batch, 'xxxxxxxx')).flatMap((c) => c.batch.flatMap((x) => x.messages));
  assert.equal(delivered.length, 4);
});

test('oversize events are refused before sending; the rest is produced', async () => {
  const client = new FakeKafkaClient();
  const { t } = setup(client, { max_message_bytes: 2048 });
  const r = await t.send([outbound(listenerEvent()), outbound(bigEvent(4000)), outbound(alertEvent())], signal());
  assert.equal(r.kind, 'partial');
  assert.deepEqual((r as { retry: number[]; rejected: { index: number }[] }).retry, []);
  assert.deepEqual((r as { rejected: { index: number }[] }).rejected.map((x) => x.index), [1]);
  assert.equal(client.values().length, 2);
  assert.ok(!client.values().some((v) => v.includes('xxxxxxxx')));
});

test('authorisation failure pauses the output with one error line; transient failures say retryable', async () => {
  const client = new FakeKafkaClient(() => Promise.reject(new KafkaClientError('authorization', 'TOPIC_AUTHORIZATION_FAILED', 'Not authorized to access topics')));
  const { t, logger } = setup(client);
  for (let i = 0; i < 3; i++) {
    const r = await t.send(batch(2), signal());
    assert.equal(r.kind, 'paused');
  }
  assert.equal(t.health(), 'paused');
  assert.equal(logger.records.filter((r) => r.level === 'error').length, 1);
  client.behaviour = () => Promise.reject(new KafkaClientError('not_leader', 'NOT_LEADER_FOR_PARTITION', 'leader moved'));
  assert.equal((await t.send(batch(1), signal())).kind, 'retryable');
});

test('start never waits for the cluster; shutdown is idempotent, safe before start, and bounded', async () => {
  const client = new FakeKafkaClient(undefined, () => new Promise(() => undefined));
  const { t: early } = setup(new FakeKafkaClient());
  await early.shutdown();
  await early.shutdown();
  const { t, logger } = setup(client, { timeout: 200 });
  const t0 = Date.now();
  await t.start();
  assert.ok(Date.now() - t0 < 100);
  await t.shutdown();
  await t.shutdown();
  assert.equal(client.disconnects, 1);
  assert.ok(logger.records.some((r) => r.message.startsWith('kafka output down')), 'the failed health check is logged');
  assert.equal((await t.send(batch(1), signal())).kind, 'retryable');
});
