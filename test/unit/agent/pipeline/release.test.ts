import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipeline } from '../../../../agent/pipeline/index.js';
import { MemoryTransport } from '../../../../transports/memory/index.js';
import { waitFor } from '../../../helpers/wait.js';
import { defer, pipelineOptions, sequences, tempState, testDoc } from './support.js';

const CAP = 256 * 1024;

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false); }, ms); });
  const r = await Promise.race([p.then(() => true, () => true), late]);
  clearTimeout(timer);
  return r;
}

test('stopping on a full spool (block, output down): release() ends the wait, a quarter over the cap is kept and delivered after the restart, the rest is counted as dropped', async (t) => {
  const dir = await tempState(t);
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'siem', transport: down }], { spool: { max_bytes: CAP, fsync_interval: 20 } }));
  defer(t, () => p.shutdown());
  await p.start();

  // 1 KiB events until one waits for room: the spool is full and the output makes none.
  let n = 0;
  let waiting: Promise<void> | undefined;
  while (waiting === undefined) {
    const accepted = p.accept(testDoc(++n, 'event', 1024));
    if (!await settlesWithin(accepted, 300)) waiting = accepted;
    assert.ok(n < 1000, 'the spool never filled');
  }
  const full = p.stats().spool?.bytes ?? 0;
  assert.ok(full <= CAP, `at most the cap before release (${full})`);

  p.release();
  assert.ok(await settlesWithin(waiting, 1000), 'the waiting event no longer waits');
  // What the stopping agent still hands over: none of it waits.
  const more = 200;
  for (let i = 0; i < more; i++) assert.ok(await settlesWithin(p.accept(testDoc(++n, 'event', 1024)), 1000), `event ${n} waited after release`);
  const stats = p.stats();
  const dropped = stats.dropped.shutdown ?? 0;
  const after = stats.spool?.bytes ?? 0;
  t.diagnostic(`${n} accepted: ${full} bytes at the cap, ${after} after release, ${dropped} dropped (shutdown)`);
  assert.ok(after > full, 'some went over the cap');
  assert.ok(after <= CAP * 1.25, `at most a quarter over the cap (${after})`);
  assert.ok(dropped > 0 && dropped < more, `the rest counted as dropped (${dropped})`);
  await p.shutdown();

  // The next start with the output back: every event not counted as dropped arrives, once.
  const up = new MemoryTransport();
  const p2 = createPipeline(pipelineOptions(dir, [{ name: 'siem', transport: up }], { spool: { max_bytes: CAP, fsync_interval: 20 } }));
  defer(t, () => p2.shutdown());
  await p2.start();
  await waitFor('the backlog delivered', () => (up.delivered.length >= n - dropped ? true : undefined), 20_000);
  const got = sequences(up.delivered);
  assert.equal(new Set(got).size, got.length, 'nothing twice');
  assert.equal(got.length, n - dropped, 'every event not counted as dropped');
  assert.deepEqual(got.slice(0, n - more - 1), Array.from({ length: n - more - 1 }, (_, i) => i + 1), 'everything accepted before the release, in order');
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
});
