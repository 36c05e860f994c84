// Reload in place restarts one output with new settings (DeliveryPipeline.replaceOutput): it drains,
// then continues the same lane with a new transport, so nothing is skipped or sent twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryPipeline } from '../../../../agent/pipeline/index.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { assertInvariant, defer, outputConfig, pipelineOptions, sequences, tempState, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

test('replaceOutput mid-stream: the old and the new transport together get every event once, in order; the other output is untouched', async (t) => {
  const dir = await tempState(t);
  const a1 = new MemoryTransport();
  const b = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'a', transport: a1 }, { name: 'b', transport: b }]));
  defer(t, () => p.shutdown());
  await p.start();
  const N = 3000;
  const a2 = new MemoryTransport();
  for (let i = 1; i <= N / 2; i++) await p.accept(testDoc(i));
  await waitFor('some delivery to a', () => a1.delivered.length > 100);
  const replacing = p.replaceOutput('a', outputConfig('memory', { batch: { max_events: 7, max_wait: 5 } }), a2);
  // Events keep coming while the old transport drains.
  for (let i = N / 2 + 1; i <= N; i++) await p.accept(testDoc(i));
  await replacing;
  await waitFor('every event delivered', () => a1.delivered.length + a2.delivered.length >= N && b.delivered.length >= N);
  assert.deepEqual([...sequences(a1.delivered), ...sequences(a2.delivered)], range(N), 'a: none lost, none twice, in order');
  assert.ok(a2.delivered.length > 0 && a1.stopped && !b.stopped);
  assert.deepEqual(sequences(b.delivered), range(N));
  assert.ok(a2.maxInFlight <= 1 && Math.max(...a2.batches) <= 7, 'the new settings apply');
  assertInvariant(p.stats());
  assert.equal(p.stats().outputs[0]?.sent, N, 'the lane and its counters are kept');
});

test('replaceOutput of an output that is down: what it could not send goes through the new transport, nothing lost', async (t) => {
  const dir = await tempState(t);
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'siem', transport: down }]));
  defer(t, () => p.shutdown());
  await p.start();
  for (let i = 1; i <= 500; i++) await p.accept(testDoc(i));
  await waitFor('failures', () => (p.stats().outputs[0]?.failed.retryable ?? 0) >= 2);
  const fixed = new MemoryTransport();
  await p.replaceOutput('siem', outputConfig('memory'), fixed, 200);
  await waitFor('the backlog through the new transport', () => fixed.delivered.length >= 500);
  assert.deepEqual(sequences(fixed.delivered), range(500));
  assert.equal(down.delivered.length, 0);
  assert.equal(p.stats().outputs[0]?.state, 'running');
  assert.ok((p.stats().outputs[0]?.failed.retryable ?? 0) >= 2, 'failure counts survive the restart');
  assertInvariant(p.stats());
});

test('addOutput gets the events accepted from then on; removeOutput drains and stops holding back segment deletion', async (t) => {
  const dir = await tempState(t);
  const a = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'a', transport: a }], { spool: { segment_bytes: 4096 } }));
  defer(t, () => p.shutdown());
  await p.start();
  for (let i = 1; i <= 100; i++) await p.accept(testDoc(i, 'event', 200));
  const c = new MemoryTransport();
  await p.addOutput('c', outputConfig('memory'), c);
  for (let i = 101; i <= 200; i++) await p.accept(testDoc(i, 'event', 200));
  await waitFor('delivery to both', () => a.delivered.length >= 200 && c.delivered.length >= 100);
  assert.deepEqual(sequences(c.delivered), range(200).slice(100), 'only what came after it was added');
  assert.deepEqual(p.stats().outputs.map((o) => o.name), ['a', 'c']);
  assertInvariant(p.stats());

  // A removed output that is down no longer keeps the spool's segments.
  c.behave(() => ({ kind: 'retryable' }));
  for (let i = 201; i <= 300; i++) await p.accept(testDoc(i, 'event', 200));
  await waitFor('a has everything', () => a.delivered.length >= 300);
  const segmentsBefore = p.stats().spool?.segments ?? 0;
  await p.removeOutput('c', 100);
  assert.ok(c.stopped);
  assert.deepEqual(p.stats().outputs.map((o) => o.name), ['a']);
  await p.accept(testDoc(301, 'event', 200));
  await waitFor('a gets new events', () => a.delivered.length >= 301);
  await waitFor('segments only c held are deleted', () => (p.stats().spool?.segments ?? 0) < segmentsBefore);
  assert.deepEqual(sequences(a.delivered), range(301));
});
