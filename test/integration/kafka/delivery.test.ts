import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getField } from '../../../agent/ecs/document.js';
import { F } from '../../../agent/ecs/fields.js';
import type { OutboundEvent } from '../../../transports/types.js';
import { MockCluster } from '../../../testkit/peers/kafka-mock-cluster.js';
import type { ConsumedMessage } from '../../../testkit/peers/kafka-mock-cluster.js';
import { deliver, kafkaOutput } from './drive.js';
import { alertEvent, bigEvent, listenerEvent, outbound, processEvent } from '../../../testkit/samples/kafka.js';

function mixedBatch(n: number): OutboundEvent[] {
  const out: OutboundEvent[] = [];
  for (let i = 0; i < n; i++) {
    const doc = i % 3 === 0 ? listenerEvent(i % 3, 1000 + i) : i % 3 === 1 ? alertEvent(i % 2) : processEvent(i % 3);
    out.push(outbound(doc));
  }
  return out;
}

const idOf = (m: ConsumedMessage): string => String(getField(JSON.parse(m.payload), F.eventId));

function assertDelivered(sent: readonly OutboundEvent[], got: readonly ConsumedMessage[], topicOf: (ev: OutboundEvent) => string): void {
  const byId = new Map<string, ConsumedMessage[]>();
  for (const m of got) byId.set(idOf(m), [...(byId.get(idOf(m)) ?? []), m]);
  for (const ev of sent) {
    const id = String(getField(ev.doc, F.eventId));
    const copies = byId.get(id) ?? [];
    assert.equal(copies.length, 1, `event ${id} arrived ${String(copies.length)} times`);
    const m = copies[0];
    assert.ok(m !== undefined);
    assert.equal(m.key, getField(ev.doc, F.hostId), 'key is host.id');
    assert.equal(m.payload, ev.json, 'value is the JSON text unchanged');
    assert.deepEqual(JSON.parse(m.payload), ev.doc);
    assert.equal(m.headers[F.eventDataset], getField(ev.doc, F.eventDataset));
    assert.equal(m.headers[F.eventKind], getField(ev.doc, F.eventKind));
    assert.equal(m.topic, topicOf(ev));
  }
}

for (const compression of ['gzip', 'none'] as const) {
  test(`every event arrives once with key host.id, intact JSON and headers (compression ${compression})`, async (t) => {
    const cluster = await MockCluster.start({ topics: ['siem-events'] });
    t.after(() => cluster.close());
    const out = kafkaOutput({ brokers: cluster.bootstrap, topic: 'siem-events', compression, timeout: '5s' });
    t.after(() => out.shutdown());
    await out.start();
    const batches = [mixedBatch(50), mixedBatch(7), mixedBatch(120)];
    for (const b of batches) {
      const d = await deliver(out, b);
      assert.equal(d.deadLettered.length, 0);
    }
    const sent = batches.flat();
    await cluster.waitFor((m) => m.length >= sent.length);
    assertDelivered(sent, cluster.messages, () => 'siem-events');
    // Same host -> same partition: per-host order survives.
    const partitions = new Map<string, Set<number>>();
    for (const m of cluster.messages) partitions.set(m.key ?? '', (partitions.get(m.key ?? '') ?? new Set()).add(m.partition));
    for (const [host, parts] of partitions) assert.equal(parts.size, 1, `host ${host} spread over partitions ${[...parts].join(',')}`);
    assert.equal(out.health(), 'up');
  });
}

test('a {event.dataset} placeholder routes alerts, network and process events to their own topics', async (t) => {
  const topics = ['pw-portwarden.network', 'pw-portwarden.alerts', 'pw-portwarden.process'];
  const cluster = await MockCluster.start({ topics });
  t.after(() => cluster.close());
  const out = kafkaOutput({ brokers: cluster.bootstrap, topic: 'pw-{event.dataset}', timeout: '5s' });
  t.after(() => out.shutdown());
  await out.start();
  const sent = mixedBatch(60);
  const d = await deliver(out, sent);
  assert.equal(d.deadLettered.length, 0);
  await cluster.waitFor((m) => m.length >= sent.length, 30_000);
  assertDelivered(sent, cluster.messages, (ev) => `pw-${String(getField(ev.doc, F.eventDataset))}`);
  assert.deepEqual(new Set(cluster.messages.map((m) => m.topic)), new Set(topics));
});

test('an event over max_message_bytes is dead-lettered with its reason while the rest flows', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-big'] });
  t.after(() => cluster.close());
  const out = kafkaOutput({ brokers: cluster.bootstrap, topic: 'siem-big', max_message_bytes: '64KiB', timeout: '5s' });
  t.after(() => out.shutdown());
  await out.start();
  const big = outbound(bigEvent(200_000));
  const small = mixedBatch(10);
  const batch = [...small.slice(0, 4), big, ...small.slice(4)];
  const d = await deliver(out, batch);
  const [dead, ...others] = d.deadLettered;
  assert.equal(others.length, 0);
  assert.equal(dead?.ev, big);
  assert.match(dead.reason, /larger than max_message_bytes \(65536\)/);
  await cluster.waitFor((m) => m.length >= small.length);
  assertDelivered(small, cluster.messages, () => 'siem-big');
  assert.ok(!cluster.messages.some((m) => m.payload === big.json), 'the oversize event was not produced');
});
