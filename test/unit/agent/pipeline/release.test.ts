import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import type { Pipeline } from '../../../../agent/pipeline/types.js';
import { HEADER_BYTES } from '../../../../agent/pipeline/spool/frame.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { waitFor } from '../../../helpers/wait.js';
import { assertInvariant, defer, pipelineOptions, sequences, tempState, testDoc } from './support.js';

const CAP = 256 * 1024;
const PAD = 1024;

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false); }, ms); });
  const r = await Promise.race([p.then(() => true, () => true), late]);
  clearTimeout(timer);
  return r;
}

const frameBytes = (n: number): number => HEADER_BYTES + Buffer.byteLength(JSON.stringify(testDoc(n, 'event', PAD)));

/** Accepts padded events while they fit the cap (each resolves: there is room); returns the last number used. */
async function fill(p: Pipeline, from: number): Promise<number> {
  let n = from;
  while ((p.stats().spool?.bytes ?? 0) + frameBytes(n + 1) <= CAP) await p.accept(testDoc(++n, 'event', PAD));
  return n;
}

test('stopping on a full spool (block, output down): release() ends the wait, a quarter over the cap is kept and delivered after the restart, alerts further, the rest is counted as dropped', async (t) => {
  const dir = await tempState(t);
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const opts = { spool: { max_bytes: CAP, fsync_interval: 20 } };
  const p = createPipeline(pipelineOptions(dir, [{ name: 'siem', transport: down }], opts));
  defer(t, () => p.shutdown());
  await p.start();

  let n = await fill(p, 0);
  const full = p.stats().spool?.bytes ?? 0;
  // The output is down: room never comes, so the next event waits for as long as we look.
  const waiting = p.accept(testDoc(++n, 'event', PAD));
  assert.equal(await settlesWithin(waiting, 500), false, 'an event past the cap waits (block)');

  p.release();
  assert.ok(await settlesWithin(waiting, 1000), 'the waiting event no longer waits');
  // What the stopping agent still hands over: none of it waits.
  const more = 200;
  for (let i = 0; i < more; i++) assert.ok(await settlesWithin(p.accept(testDoc(++n, 'event', PAD)), 1000), `event ${n} waited after release`);
  const afterEvents = p.stats();
  const dropped = afterEvents.dropped.shutdown ?? 0;
  const bytes = afterEvents.spool?.bytes ?? 0;
  assert.ok(bytes > full, 'some went over the cap');
  assert.ok(bytes <= CAP * 1.25, `at most a quarter over the cap (${bytes})`);
  assert.ok(dropped > 0 && dropped < more, `the rest counted as dropped (${dropped})`);
  assertInvariant(afterEvents);
  // Alerts (and the agent's own reports) past the events' quarter: taken, up to twice as far.
  const alerts = 20;
  for (let i = 0; i < alerts; i++) assert.ok(await settlesWithin(p.accept(testDoc(++n, 'alert', PAD)), 1000), `alert ${n} waited after release`);
  assert.equal(p.stats().dropped.shutdown ?? 0, dropped, 'no alert dropped');
  assert.ok((p.stats().spool?.bytes ?? 0) <= CAP * 1.5, 'alerts too stay within their bound');
  t.diagnostic(`${n} accepted: ${full} bytes at the cap, ${bytes} after release, ${p.stats().spool?.bytes ?? 0} with the alerts, ${dropped} dropped (shutdown)`);
  assertInvariant(p.stats());
  await p.shutdown();

  // The next start with the output back: every event not counted as dropped arrives, once.
  const up = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'siem', transport: up }], opts));
  defer(t, () => p2.shutdown());
  await p2.start();
  await waitFor('the backlog delivered', () => (sequences(up.delivered).length >= n - dropped ? true : undefined), 20_000);
  const got = sequences(up.delivered);
  assert.equal(new Set(got).size, got.length, 'nothing twice');
  assert.equal(got.length, n - dropped, 'every event not counted as dropped');
  const before = n - more - alerts;
  assert.deepEqual(got.slice(0, before), Array.from({ length: before }, (_, i) => i + 1), 'everything accepted before the release, in order');
  assertInvariant(p2.stats());
});

test('release() leaves drop_newest as it is: events past the cap are still refused as queue_full, not taken over it', async (t) => {
  const dir = await tempState(t);
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'siem', transport: down }], { spool: { max_bytes: CAP, when_full: 'drop_newest' } }));
  defer(t, () => p.shutdown());
  await p.start();
  let n = await fill(p, 0);
  const full = p.stats().spool?.bytes ?? 0;
  p.release();
  for (let i = 0; i < 50; i++) await p.accept(testDoc(++n, 'event', PAD));
  const s = p.stats();
  assert.equal(s.dropped.queue_full, 50);
  assert.equal(s.dropped.shutdown, undefined);
  assert.equal(s.spool?.bytes, full, 'nothing taken over the cap');
  assertInvariant(s);
});

test('release() on a spool with room changes nothing: events are stored as before, none dropped', async (t) => {
  const dir = await tempState(t);
  const out = new MemoryTransport();
  const p = createPipeline(pipelineOptions(dir, [{ name: 'siem', transport: out }], { spool: { max_bytes: CAP } }));
  defer(t, () => p.shutdown());
  await p.start();
  p.release();
  for (let i = 1; i <= 50; i++) await p.accept(testDoc(i));
  await waitFor('delivery', () => (out.delivered.length === 50 ? true : undefined));
  assert.equal(p.stats().dropped.shutdown, undefined);
  assert.equal(p.stats().dropped.queue_full, undefined);
});
