import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryPipeline } from '../../../agent/pipeline/index.js';
import { Action } from '../../../agent/ecs/fields.js';
import type { EcsDocument } from '../../../agent/ecs/document.js';
import { getField } from '../../../agent/ecs/document.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { assertInvariant, defer, outputConfig, pipelineOptions, sequences, tempState, testDoc } from '../../unit/agent/pipeline/support.js';
import { waitFor } from '../../helpers/wait.js';

const CAP = 256 * 1024;
const N = 2000; // ~ 700 KB of events: well past the cap

/** Pipeline options for output `siem` on `dir`, capped at CAP with `policy`. */
function capOptions(dir: string, transport: MemoryTransport, policy: string, warnIntervalMs: number) {
  return pipelineOptions(dir, [{ name: 'siem', transport, config: outputConfig('memory', { retry: { initial: 1, max: 10 } }) }], {
    spool: { max_bytes: CAP, when_full: policy }, warnIntervalMs,
  });
}

async function setup(t: Parameters<typeof tempState>[0], policy: string) {
  const dir = await tempState(t);
  const m = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = new DeliveryPipeline(capOptions(dir, m, policy, 100));
  defer(t, () => p.shutdown());
  await p.start();
  return { m, p };
}

/**
 * Two runs on one state dir, the warning window an hour long: the first with the output down takes
 * N events past the cap and stops cleanly; returns its queue_full drops and starts the second run
 * with the output up.
 */
async function downThenUp(t: Parameters<typeof tempState>[0], policy: string) {
  const dir = await tempState(t);
  const p = new DeliveryPipeline(capOptions(dir, new MemoryTransport().behave(() => ({ kind: 'retryable' })), policy, 3_600_000));
  defer(t, () => p.shutdown());
  await p.start();
  // No alerts: under drop_newest they would wait for room the down output never makes.
  for (let n = 1; n <= N; n++) await p.accept(testDoc(n, 'event', 250));
  const dropped = p.stats().outputs[0]?.dropped.queue_full ?? 0;
  await p.shutdown();
  const up = new MemoryTransport();
  const again = new DeliveryPipeline(capOptions(dir, up, policy, 3_600_000));
  defer(t, () => again.shutdown());
  return { dropped, up, again };
}

const isAlert = (n: number): boolean => n % 100 === 0;
const doc = (n: number): EcsDocument => testDoc(n, isAlert(n) ? 'alert' : 'event', 250);

test('when_full: block makes accept() wait at the cap and loses nothing', async (t) => {
  const { m, p } = await setup(t, 'block');
  let resolved = 0;
  const all = Array.from({ length: N }, (_, i) => p.accept(doc(i + 1)).then(() => { resolved++; }));
  // Wait until accepts stop resolving: the spool is full and everything in it is written.
  let seen = -1;
  await waitFor('accepts to stop at the cap', async () => {
    const before = resolved;
    await new Promise((r) => setTimeout(r, 150));
    const stable = before === resolved && before === seen && before > 0;
    seen = before;
    return stable;
  });
  const stuck = resolved;
  assert.ok((p.stats().spool?.bytes ?? 0) > CAP - 2000, 'stopped because the spool is full');
  assert.equal(resolved, stuck, 'no accept resolves while the spool is full');
  assert.ok(resolved < N);
  assert.ok((p.stats().spool?.bytes ?? 0) <= CAP, 'the cap holds');
  m.behave(() => ({ kind: 'ok' }));
  await Promise.all(all);
  await waitFor('drained', () => p.stats().outputs[0]?.queuedEvents === 0);
  assert.deepEqual(sequences(m.delivered), Array.from({ length: N }, (_, i) => i + 1));
  assert.deepEqual(p.stats().outputs[0]?.dropped, {});
  assertInvariant(p.stats());
});

for (const policy of ['drop_newest', 'drop_oldest'] as const) {
  test(`when_full: ${policy} keeps the cap, never drops alerts, counts and reports drops in-band`, async (t) => {
    const { m, p } = await setup(t, policy);
    // Non-alerts never wait; alerts may wait for room, so do not hold the loop on them.
    const alerts: Promise<void>[] = [];
    for (let n = 1; n <= N; n++) {
      if (isAlert(n)) alerts.push(p.accept(doc(n)));
      else await p.accept(doc(n));
      assert.ok((p.stats().spool?.bytes ?? 0) <= CAP, `cap exceeded at ${n}`);
      assertInvariant(p.stats());
    }
    const s = p.stats();
    const dropped = s.outputs[0]?.dropped.queue_full ?? 0;
    assert.ok(dropped > 0, 'something was dropped');
    if (policy === 'drop_newest') assert.equal(s.dropped.queue_full, dropped);
    m.behave(() => ({ kind: 'ok' }));
    await Promise.all(alerts);
    await waitFor('drained', () => p.stats().outputs[0]?.queuedEvents === 0);
    assertInvariant(p.stats());
    const got = sequences(m.delivered);
    for (let n = 100; n <= N; n += 100) assert.ok(got.includes(n), `alert ${n} delivered`);
    const plain = new Set(got.filter((n) => !isAlert(n)));
    assert.equal(plain.size, N - N / 100 - dropped, 'every non-alert is either delivered or counted as dropped');
    if (policy === 'drop_newest') assert.ok(plain.has(1), 'the oldest were kept');
    else {
      assert.ok(plain.has(N - 1), 'the newest were kept');
      // The batch already in flight is not taken back; after it, the oldest went first.
      const firstGap = [...Array(N).keys()].map((i) => i + 1).find((n) => !isAlert(n) && !plain.has(n)) ?? N;
      const keptAfterGap = [...plain].filter((n) => n > firstGap);
      assert.ok(keptAfterGap.every((n) => n > firstGap + dropped - 50), `dropped a contiguous oldest run (gap at ${firstGap})`);
    }
    const reported = (): number => m.delivered.filter((e) => e.doc.event.action === Action.eventsDropped)
      .map((e) => (e.doc.portwarden as { pipeline: { dropped_by_output: Record<string, number> } }).pipeline.dropped_by_output.siem ?? 0)
      .reduce((a, b) => a + b, 0);
    await waitFor('in-band reports to cover every drop', () => reported() >= dropped);
    assert.equal(reported(), dropped, 'in-band reports add up to the drop counter');
  });
}

test('when_full: drop_oldest with concurrent producers never deadlocks and shuts down at once', async (t) => {
  const { m, p } = await setup(t, 'drop_oldest');
  // Many accepts outstanding at once: frames still being written count against the cap.
  const all: Promise<void>[] = [];
  for (let round = 0; round < 2; round++) {
    for (let n = 1; n <= N; n++) all.push(p.accept(testDoc(round * N + n, 'event', 250)));
  }
  let settled = 0;
  const done = Promise.allSettled(all).then(() => { settled = all.length; });
  await waitFor('every accept to resolve', () => settled === all.length, 60_000);
  await done;
  assert.ok((p.stats().outputs[0]?.dropped.queue_full ?? 0) > 0, 'older events were dropped');
  assert.ok((p.stats().spool?.bytes ?? 0) <= CAP, 'the cap holds');
  assertInvariant(p.stats());
  const t0 = Date.now();
  await p.shutdown();
  assert.ok(Date.now() - t0 < 5000, `shutdown took ${Date.now() - t0} ms`);
  m.behave(() => ({ kind: 'ok' }));
});

test('an event too large for the spool is cut, or dropped and counted, never an error', async (t) => {
  const { m, p } = await setup(t, 'block');
  m.behave(() => ({ kind: 'ok' }));
  const long = { ...testDoc(1), process: { command_line: 'x'.repeat(400_000), args: ['y'.repeat(300_000)], args_count: 1 } } as EcsDocument;
  await p.accept(long);
  // Nothing to cut: many small fields.
  const wide = { ...testDoc(2), labels: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v'])) } as EcsDocument;
  await p.accept(wide);
  await waitFor('the cut event delivered', () => m.delivered.find((e) => e.doc.event.sequence === 1));
  const got = m.delivered.find((e) => e.doc.event.sequence === 1);
  assert.deepEqual(getField(got?.doc ?? {}, 'portwarden.truncated'), ['process.args', 'process.command_line']);
  const cut = getField(got?.doc ?? {}, 'process.command_line');
  assert.ok(typeof cut === 'string' && cut.length > 0 && cut.length <= 4096, 'the command line is cut, not removed');
  assert.equal(p.stats().outputs[0]?.dropped.too_large, 1);
  assert.equal(p.stats().dropped.too_large, 1);
  assertInvariant(p.stats());
});

test('drops of the last window are reported in-band at shutdown, not lost with it', async (t) => {
  // The first run shuts down well inside the (hour-long) warning window, with the output still down.
  const { dropped, up, again } = await downThenUp(t, 'drop_newest');
  assert.ok(dropped > 0);
  await again.start();
  const reported = (): number => up.delivered.filter((e) => e.doc.event.action === Action.eventsDropped)
    .map((e) => (getField(e.doc, 'portwarden.pipeline.dropped_by_output') as Record<string, number>).siem ?? 0).reduce((a, b) => a + b, 0);
  await waitFor('the spooled backlog delivered after the restart', () => again.stats().outputs[0]?.queuedEvents === 0 && up.delivered.length > 0);
  assert.equal(reported(), dropped, 'the drops of the last window arrive with the backlog');
});

test('drop_oldest under a batch in flight: a restart counts only what was really lost, not the evicted events again', async (t) => {
  // The output is down, so its first batch stays in flight while the segments behind it are evicted.
  const { dropped, up, again } = await downThenUp(t, 'drop_oldest');
  assert.ok(dropped > 0);
  await again.start();
  await waitFor('the backlog delivered', () => again.stats().outputs[0]?.queuedEvents === 0);
  const got = new Set(sequences(up.delivered));
  const lost = again.recovery?.lost ?? 0;
  t.diagnostic(`${N} accepted: ${got.size} delivered, ${dropped} dropped (evicted), ${lost} lost (the batch in flight, evicted)`);
  // Every event once: delivered, counted as dropped by the first run, or counted as lost by the second.
  assert.equal(got.size + dropped + lost, N);
});
