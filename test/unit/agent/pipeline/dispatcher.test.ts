import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPipeline, DeliveryPipeline } from '../../../../agent/pipeline/index.js';
import { Action, Dataset } from '../../../../agent/ecs/fields.js';
import { memoryLogger } from '../../../../agent/log/logger.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { assertInvariant, defer, outputConfig, pipelineOptions, sequences, tempState, testDoc } from './support.js';
import { waitFor } from '../../../helpers/wait.js';

async function setup(t: Parameters<typeof tempState>[0], m: MemoryTransport, over: Parameters<typeof pipelineOptions>[2] = {}, cfg = outputConfig('memory')) {
  const dir = await tempState(t);
  const p = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: m, config: cfg }], over));
  defer(t, () => p.shutdown());
  await p.start();
  return { dir, p };
}

test('partial results retry only the failed events and dead-letter the rejected ones with the reason', async (t) => {
  const m = new MemoryTransport().push({ kind: 'partial', retry: [1, 3], rejected: [2] });
  const { dir, p } = await setup(t, m, {}, outputConfig('memory', { batch: { max_events: 5, max_wait: 200 } }));
  await Promise.all([1, 2, 3, 4, 5].map((i) => p.accept(testDoc(i))));
  await waitFor('queue drained', () => p.stats().outputs[0]?.queuedEvents === 0);
  assert.deepEqual(m.batches.slice(0, 2), [5, 2], 'the retry carries only the two failed events');
  assert.deepEqual(sequences(m.delivered), [1, 5, 2, 4]);
  const dead = (await readFile(join(dir, 'dead-letter', 'm.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { reason: string; output: string; event: { event: { sequence: number } } });
  assert.equal(dead.length, 1);
  assert.equal(dead[0]?.event.event.sequence, 3);
  assert.equal(dead[0].reason, 'memory: item rejected');
  assert.equal(dead[0].output, 'm');
  const s = p.stats().outputs[0];
  assert.equal(s?.deadLettered, 1);
  assert.equal(s.sent, 4);
  assert.equal(s.retries, 1);
  assertInvariant(p.stats());
});

test('permanent rejections go to the dead-letter file and delivery continues', async (t) => {
  const m = new MemoryTransport().push({ kind: 'permanent', reason: 'mapper_parsing_exception' });
  const { dir, p } = await setup(t, m, {}, outputConfig('memory', { batch: { max_events: 2, max_wait: 200 } }));
  await Promise.all([1, 2, 3].map((i) => p.accept(testDoc(i))));
  await waitFor('drained', () => p.stats().outputs[0]?.queuedEvents === 0);
  const lines = (await readFile(join(dir, 'dead-letter', 'm.ndjson'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /"reason":"mapper_parsing_exception"/);
  assert.deepEqual(sequences(m.delivered), [3]);
  assertInvariant(p.stats());
});

test('retryable failures back off, honour Retry-After and never give up', async (t) => {
  const m = new MemoryTransport().push({ kind: 'retryable' }, { kind: 'retryable' }, { kind: 'retryable', retryAfterMs: 300 });
  const { p } = await setup(t, m);
  await p.accept(testDoc(1));
  const t0 = Date.now();
  await waitFor('eventual delivery', () => m.delivered.length === 1);
  assert.ok(Date.now() - t0 >= 290, 'waited at least the Retry-After');
  assert.equal(m.calls, 4);
  const s = p.stats().outputs[0];
  assert.equal(s?.retries, 3);
  assert.equal(s.failed.retryable, 3);
  assert.equal(s.state, 'running');
});

test('the circuit breaker opens after consecutive failures and probes with single events', async (t) => {
  const m = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const { p } = await setup(t, m, {}, outputConfig('memory', { retry: { initial: 1, max: 5, breaker_threshold: 3 }, batch: { max_wait: 100 } }));
  await Promise.all([1, 2, 3, 4].map((i) => p.accept(testDoc(i))));
  await waitFor('several attempts', () => m.calls >= 6);
  assert.equal(p.stats().outputs[0]?.state, 'open');
  assert.equal(m.batches[0], 4);
  assert.ok(m.batches.slice(3).every((n) => n === 1), `probes are single events: ${m.batches.join(',')}`);
  m.behave(() => ({ kind: 'ok' }));
  await waitFor('recovery', () => m.delivered.length === 4);
  assert.equal(p.stats().outputs[0]?.state, 'running');
});

test('auth failures pause the output with an agent event, keep events, and resume when fixed', async (t) => {
  const log = memoryLogger();
  const m = new MemoryTransport().behave((batch) => (batch.some((e) => e.doc.event.dataset === Dataset.network) ? { kind: 'paused', reason: '401 bad token' } : { kind: 'ok' }));
  const { p } = await setup(t, m, { logger: log });
  await p.accept(testDoc(1));
  await waitFor('paused', () => p.stats().outputs[0]?.state === 'paused');
  await waitFor('probes continue while paused', () => (p.stats().outputs[0]?.failed.paused ?? 0) >= 3);
  assert.equal(p.stats().outputs[0]?.queuedEvents, 2, 'the event and the output_paused event stay queued');
  assert.ok(log.records.some((r) => r.level === 'error' && r.message.includes('paused')));
  m.behave(() => ({ kind: 'ok' }));
  await waitFor('output_resumed delivered', () => m.delivered.some((e) => e.doc.event.action === Action.outputResumed));
  const actions = m.delivered.map((e) => e.doc.event.action);
  assert.ok(actions.includes(Action.outputPaused));
  assert.deepEqual(sequences(m.delivered), [1]);
  assertInvariant(p.stats());
});

test('shutdown is idempotent, safe before start, and bounded with a hanging output', async (t) => {
  const dir = await tempState(t);
  const idle = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: new MemoryTransport() }]));
  await idle.shutdown();
  await idle.shutdown();
  const m = new MemoryTransport().behave(() => ({ kind: 'hang' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: m }], { shutdownTimeoutMs: 300 }));
  await p.start();
  await p.accept(testDoc(1));
  await waitFor('send in flight', () => m.inFlight === 1);
  const t0 = Date.now();
  await Promise.all([p.shutdown(), p.shutdown()]);
  assert.ok(Date.now() - t0 < 3000, 'bounded');
  await assert.rejects(p.accept(testDoc(2)), /not running/);
  const again = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: again }]));
  defer(t, () => p2.shutdown());
  await p2.start();
  await waitFor('the unacknowledged event is delivered after restart', () => again.delivered.length === 1);
  assert.deepEqual(sequences(again.delivered), [1]);
});

test('shutdown sends what is queued to a healthy output without waiting for batches to fill', async (t) => {
  const m = new MemoryTransport();
  const { p } = await setup(t, m, {}, outputConfig('memory', { batch: { max_wait: 60_000 } }));
  await p.accept(testDoc(1));
  await p.accept(testDoc(2));
  const t0 = Date.now();
  await p.shutdown();
  assert.ok(Date.now() - t0 < 3000, 'did not wait for max_wait');
  assert.deepEqual(sequences(m.delivered), [1, 2]);
  assert.equal(p.stats().outputs[0]?.state, 'stopped');
});

test('a second stop signal aborts the batch in flight unacknowledged and sends no batch after it', async (t) => {
  // The first batch hangs until aborted; any later one would be acknowledged at once.
  const m = new MemoryTransport().behave((_batch, call) => (call === 0 ? { kind: 'hang' } : { kind: 'ok' }));
  const dir = await tempState(t);
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'm', transport: m, config: outputConfig('memory', { batch: { max_events: 2, max_wait: 10 } }) }], { shutdownTimeoutMs: 60_000 }));
  defer(t, () => p.shutdown());
  await p.start();
  await Promise.all([1, 2, 3, 4, 5, 6].map((i) => p.accept(testDoc(i))));
  await waitFor('the first batch in flight', () => m.inFlight === 1);
  const stopped = p.shutdown();
  // Internal on purpose: hurry() must come while stop() drains (the first signal's stop), not before.
  const d = (p as unknown as { dispatchers: { draining: boolean }[] }).dispatchers[0];
  await waitFor('the output draining', () => d?.draining === true);
  p.hurry();
  await stopped;
  assert.equal(m.calls, 1, `no batch sent after the aborted one: ${m.batches.join(',')}`);
  assert.deepEqual(m.delivered, []);
  const again = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'm', transport: again }]));
  defer(t, () => p2.shutdown());
  await p2.start();
  await waitFor('the backlog delivered after the restart', () => again.delivered.length >= 6);
  assert.deepEqual(sequences(again.delivered), [1, 2, 3, 4, 5, 6], 'the aborted batch was not acknowledged');
});
