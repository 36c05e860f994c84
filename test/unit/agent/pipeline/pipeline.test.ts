import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { assertInvariant, pipelineOptions, sequences, tempState, testDoc, outputConfig, defer } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

test('every accepted event reaches every output, in order, and the cursor survives a restart', async (t) => {
  const dir = await tempState(t);
  const a = new MemoryTransport();
  const b = new MemoryTransport();
  const p = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: a }, { name: 'b', transport: b }]));
  defer(t, () => p.shutdown());
  await p.start();
  for (let i = 1; i <= 1000; i++) await p.accept(testDoc(i));
  await waitFor('delivery', () => a.delivered.length === 1000 && b.delivered.length === 1000);
  assert.deepEqual(sequences(a.delivered), Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.deepEqual(sequences(b.delivered), sequences(a.delivered));
  assertInvariant(p.stats());
  assert.equal(p.stats().outputs[0]?.sent, 1000);
  await p.shutdown();
  assert.equal(a.stopped, true);

  const a2 = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: a2 }, { name: 'b', transport: new MemoryTransport() }]));
  defer(t, () => p2.shutdown());
  await p2.start();
  await p2.accept(testDoc(1001));
  await waitFor('delivery after restart', () => a2.delivered.length >= 1);
  assert.deepEqual(sequences(a2.delivered), [1001], 'nothing delivered twice after a clean shutdown');
});

test('a dead output never holds back the others, and catches up when it returns', async (t) => {
  const dir = await tempState(t);
  const good = new MemoryTransport();
  const dead = new MemoryTransport().behave(() => ({ kind: 'hang' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'good', transport: good }, { name: 'dead', transport: dead }], { sendTimeoutMs: 50 }));
  defer(t, () => p.shutdown());
  await p.start();
  for (let i = 1; i <= 200; i++) await p.accept(testDoc(i));
  await waitFor('the healthy output', () => good.delivered.length === 200);
  assert.equal(dead.delivered.length, 0);
  await waitFor('timeouts on the dead output', () => (p.stats().outputs[1]?.failed.timeout ?? 0) >= 2);
  assert.equal(dead.maxInFlight, 1, 'one batch in flight at a time');
  dead.behave(() => ({ kind: 'ok' }));
  await waitFor('catch-up', () => dead.delivered.length >= 200);
  assert.deepEqual([...new Set(sequences(dead.delivered))].sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1));
  assertInvariant(p.stats());
});

test('batches respect max_events', async (t) => {
  const dir = await tempState(t);
  const m = new MemoryTransport();
  const p = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: m, config: outputConfig('memory', { batch: { max_events: 7, max_wait: 50 } }) }]));
  defer(t, () => p.shutdown());
  await p.start();
  await Promise.all(Array.from({ length: 50 }, (_, i) => p.accept(testDoc(i + 1))));
  await waitFor('delivery', () => m.delivered.length === 50);
  assert.ok(m.batches.every((n) => n <= 7), `batch sizes ${m.batches.join(',')}`);
  assert.ok(m.batches.length < 50, 'events were batched together');
});

for (const fsync of ['always', 'never'] as const) {
  test(`fsync: ${fsync} accepts, delivers and resumes after a restart`, async (t) => {
    const dir = await tempState(t);
    const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
    const p = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: down }], { spool: { fsync } }));
    await p.start();
    await Promise.all(Array.from({ length: 100 }, (_, i) => p.accept(testDoc(i + 1))));
    await p.shutdown();
    const up = new MemoryTransport();
    const p2 = createPipeline(pipelineOptions(dir, [{ name: 'a', transport: up }], { spool: { fsync } }));
    defer(t, () => p2.shutdown());
    await p2.start();
    await waitFor('backlog delivered', () => up.delivered.length === 100);
    assert.deepEqual(sequences(up.delivered), Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(p2.stats().outputs[0]?.received, 100, 'the backlog counts as received');
  });
}

test('an output added to an existing spool starts with new events; the others keep their backlog', async (t) => {
  const dir = await tempState(t);
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'old', transport: down }]));
  await p.start();
  for (let i = 1; i <= 10; i++) await p.accept(testDoc(i));
  await p.shutdown();
  const old = new MemoryTransport();
  const added = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'old', transport: old }, { name: 'added', transport: added }]));
  defer(t, () => p2.shutdown());
  await p2.start();
  await p2.accept(testDoc(11));
  await waitFor('delivery', () => old.delivered.length === 11 && added.delivered.length === 1);
  assert.deepEqual(sequences(added.delivered), [11]);
});
