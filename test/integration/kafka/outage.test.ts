import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getField } from '../../../agent/ecs/document.js';
import { F } from '../../../agent/ecs/fields.js';
import { memoryLogger } from '../../../agent/log/logger.js';
import type { OutboundEvent, SendResult } from '../../../transports/types.js';
import { MockCluster } from '../../../testkit/peers/kafka-mock-cluster.js';
import { deliver, kafkaOutput, reservePort } from './drive.js';
import { alertEvent, listenerEvent, outbound } from '../../../testkit/samples/kafka.js';
import { waitFor } from '../../helpers/wait.js';

const batchOf = (n: number): OutboundEvent[] =>
  Array.from({ length: n }, (_, i) => outbound(i % 4 === 0 ? alertEvent(i) : listenerEvent(i, 2000 + i)));
const ids = (evs: readonly OutboundEvent[]) => evs.map((e) => String(getField(e.doc, F.eventId)));

// The 20 s acceptance run goes through the real pipeline (pipeline.test.ts); this one checks the
// transport alone: every attempt during the freeze is bounded by `timeout`, one request in flight.
test('transport: a hung cluster (SIGSTOP 6 s, then SIGCONT) during a stream loses nothing', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-hung'] });
  t.after(() => cluster.close());
  const out = kafkaOutput({ brokers: cluster.bootstrap, topic: 'siem-hung', timeout: '2s' });
  t.after(() => out.shutdown());
  await out.start();

  const sent: OutboundEvent[] = [];
  const results: SendResult[] = [];
  let delivered = 0;
  let stop = false;
  const giveUp = new AbortController();
  t.after(() => { giveUp.abort(); });
  const stream = (async () => {
    while (!stop) {
      const b = batchOf(20);
      sent.push(...b);
      const d = await deliver(out, b, { deadlineMs: 120_000, signal: giveUp.signal, onResult: (r) => results.push(r) });
      assert.equal(d.deadLettered.length, 0);
      delivered += 1;
    }
  })();
  stream.catch(() => undefined);
  await waitFor('the stream to flow', () => delivered >= 3, 20_000);
  cluster.freeze();
  const frozenAt = Date.now();
  const before = results.length;
  await waitFor('the freeze to last 6 s', () => Date.now() - frozenAt >= 6000, 10_000);
  cluster.thaw();
  const during = results.slice(before).filter((r) => r.kind === 'retryable').length;
  // Each attempt gave up within its timeout (2 s) instead of hanging for the whole freeze.
  assert.ok(during >= 2, `only ${String(during)} retryable results during the freeze`);
  assert.equal(out.health(), 'down');
  const after = delivered;
  await waitFor('the stream to resume', () => delivered >= after + 3, 60_000);
  stop = true;
  await stream;

  const want = new Set(ids(sent));
  await cluster.waitFor((m) => {
    const got = new Set(m.map((x) => String(getField(JSON.parse(x.payload), F.eventId))));
    return [...want].every((id) => got.has(id));
  }, 60_000);
  assert.equal(out.health(), 'up');
});

test('brokers unreachable at start: start() returns at once, sends fail fast without spinning, then recover', async (t) => {
  const cluster = await MockCluster.start({ topics: ['siem-late'] });
  t.after(() => cluster.close());
  const reserved = await reservePort();
  const logger = memoryLogger();
  const out = kafkaOutput({ brokers: [`127.0.0.1:${String(reserved.port)}`], topic: 'siem-late', timeout: '3s' }, logger);
  t.after(() => out.shutdown());

  const t0 = Date.now();
  await out.start();
  assert.ok(Date.now() - t0 < 500, 'start() does not wait for the brokers');

  const cpu0 = process.cpuUsage();
  const wall0 = Date.now();
  const failures: SendResult[] = [];
  const batch = batchOf(30);
  while (Date.now() - wall0 < 4000) {
    const s0 = Date.now();
    const r = await out.send(batch, new AbortController().signal);
    assert.ok(Date.now() - s0 <= 3500, 'a send is bounded by timeout');
    failures.push(r);
    await new Promise((res) => setTimeout(res, 100));
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (Date.now() - wall0);
  assert.ok(failures.length >= 3 && failures.every((r) => r.kind === 'retryable'), JSON.stringify(failures.slice(0, 3)));
  assert.ok(cpuShare < 0.3, `CPU ${cpuShare.toFixed(2)} of a core while brokers are away`);
  assert.equal(out.health(), 'down');
  const downLines = logger.records.filter((r) => r.message.startsWith('kafka output down'));
  assert.equal(downLines.length, 1, 'one warning when the output goes down, not one per send');

  const proxy = await reserved.open(cluster.bootstrap[0] ?? '');
  t.after(() => new Promise((r) => proxy.close(r)));
  const d = await deliver(out, batch, { deadlineMs: 30_000 });
  assert.equal(d.deadLettered.length, 0);
  await cluster.waitFor((m) => m.length >= batch.length);
  assert.deepEqual(new Set(cluster.messages.map((m) => String(getField(JSON.parse(m.payload), F.eventId)))), new Set(ids(batch)));
  assert.equal(out.health(), 'up');
  assert.ok(logger.records.some((r) => r.level === 'info' && r.message.startsWith('kafka output recovered')));
});
