import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DeliveryPipeline } from '../../../agent/pipeline/index.js';
import { Action } from '../../../agent/ecs/fields.js';
import { getField } from '../../../agent/ecs/document.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { assertInvariant, defer, outputConfig, pipelineOptions, sequences, tempState, testDoc } from '../../unit/agent/pipeline/support.js';
import { createLogger } from '../../../agent/log/logger.js';
import { fill, mountExt4, mountTmpfs as mountDisk, segmentBytes, shutdownExt4, unmount } from '../../helpers/disk.js';
import { waitFor } from '../../helpers/wait.js';

// Real filesystems that fail: a tmpfs filled to the last byte (ENOSPC) and an ext4 image on a loop
// device shut down with EXT4_IOC_SHUTDOWN (EIO on every write). Both need root (mount).

/** Unmounted before the temp dir is removed (deferred cleanups run first). */
function unmountAfter(t: object, dir: string): void {
  defer(t, () => { unmount(dir); return Promise.resolve(); });
}

function mountTmpfs(t: object, dir: string, size: string): void {
  mountDisk(dir, size);
  unmountAfter(t, dir);
}

const actions = (m: MemoryTransport, action: string) => m.delivered.filter((e) => e.doc.event.action === action).map((e) => e.doc);

test('full disk with nothing to free: delivery goes on from memory, loss counted exactly at the memory bound, durable again when space returns', async (t) => {
  const dir = await tempState(t);
  const state = join(dir, 'state');
  mountTmpfs(t, state, '1m');
  // Filled before the pipeline ever ran: there is no delivered segment it could delete.
  const filler = join(state, 'filler');
  assert.ok(fill(filler, true) > 0);
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(state, [{ name: 'siem', transport: m, config: outputConfig('memory', { retry: { initial: 1, max: 10 } }) }], {
    spool: { memory_max_bytes: 64 * 1024 }, warnIntervalMs: 100, ...(process.env.PW_DEBUG === undefined ? {} : { logger: createLogger({ level: 'debug', format: 'human' }) }),
  }));
  defer(t, () => p.shutdown());
  await p.start();

  // Output up: every accept resolves and every event is delivered, however long the disk stays full.
  const N = 3000;
  await Promise.all(Array.from({ length: N }, (_, i) => p.accept(testDoc(i + 1, 'event', 200))));
  await waitFor('all delivered from memory', () => sequences(m.delivered).filter((n) => n <= N).length === N);
  await waitFor('spool_degraded delivered', () => actions(m, Action.spoolDegraded).length > 0);
  const degraded = actions(m, Action.spoolDegraded);
  assert.equal(degraded.length, 1, 'one in-band spool_degraded event');
  assert.equal(getField(degraded[0] ?? {}, 'portwarden.spool.reason'), 'ENOSPC');
  assert.deepEqual(p.stats().outputs[0]?.dropped, {});

  // Output down: memory holds 64 KiB; every event beyond it is counted, none silently lost.
  m.behave(() => ({ kind: 'retryable' }));
  const M = 2000;
  for (let n = N + 1; n <= N + M; n++) await p.accept(testDoc(n, 'event', 200));
  const dropped = p.stats().outputs[0]?.dropped.spool_unwritable ?? 0;
  assert.ok(dropped > 0 && dropped < M, `${dropped} of ${M} dropped at the memory bound`);
  assert.equal(p.stats().dropped.spool_unwritable, dropped);
  assertInvariant(p.stats());
  m.behave(() => ({ kind: 'ok' }));
  await waitFor('the backlog in memory delivered', () => p.stats().outputs[0]?.queuedEvents === 0);
  const got = new Set(sequences(m.delivered).filter((n) => n > N));
  assert.equal(got.size + dropped, M, 'every event is delivered or counted as dropped');
  const reported = (): number => actions(m, Action.eventsDropped)
    .map((d) => (getField(d, 'portwarden.pipeline.dropped_by_output') as Record<string, number>).siem ?? 0).reduce((a, b) => a + b, 0);
  await waitFor('the drops reported in-band', () => reported() >= dropped);
  assert.equal(reported(), dropped);

  // Space returns: the spool takes over by itself and says so in-band; new events are on disk again.
  rmSync(filler);
  rmSync(`${filler}.tail`);
  // Events keep coming, as from a live agent; each one held in memory makes the writer try the disk.
  let k = N + M;
  await waitFor('spool_resumed delivered', async () => {
    await p.accept(testDoc(++k));
    return actions(m, Action.spoolResumed).length === 1;
  }, 10_000);
  const resumed = actions(m, Action.spoolResumed)[0] ?? {};
  assert.ok((getField(resumed, 'portwarden.spool.dropped') as number) >= dropped);
  m.behave(() => ({ kind: 'retryable' }));
  const before = segmentBytes(join(state, 'spool'));
  await Promise.all(Array.from({ length: 100 }, () => p.accept(testDoc(++k, 'event', 200))));
  assert.ok(segmentBytes(join(state, 'spool')) >= before + 100 * 200, 'accepted events are written to disk again');
  assertInvariant(p.stats());
  m.behave(() => ({ kind: 'ok' }));
  await waitFor('drained', () => p.stats().outputs[0]?.queuedEvents === 0);
  assertInvariant(p.stats());
});

test('EIO on every write (ext4 shut down under the spool): delivery goes on from memory, reported in-band, shutdown counts what memory still held', async (t) => {
  const dir = await tempState(t);
  const img = join(dir, 'ext4.img');
  const state = join(dir, 'state');
  mountExt4(img, state);
  unmountAfter(t, state);
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(state, [{ name: 'siem', transport: m, config: outputConfig('memory', { retry: { initial: 1, max: 10 } }) }], {
    warnIntervalMs: 100,
  }));
  defer(t, () => p.shutdown());
  await p.start();
  await Promise.all(Array.from({ length: 500 }, (_, i) => p.accept(testDoc(i + 1))));
  await waitFor('written and delivered', () => sequences(m.delivered).length === 500);
  // From now on every write and open under the mount fails with EIO.
  shutdownExt4(state);
  await Promise.all(Array.from({ length: 2000 }, (_, i) => p.accept(testDoc(501 + i))));
  await waitFor('delivered from memory', () => sequences(m.delivered).filter((n) => n > 500).length === 2000);
  await waitFor('spool_degraded delivered', () => actions(m, Action.spoolDegraded).length > 0);
  const degraded = actions(m, Action.spoolDegraded);
  assert.equal(degraded.length, 1);
  assert.equal(getField(degraded[0] ?? {}, 'portwarden.spool.reason'), 'EIO');
  assert.deepEqual(p.stats().outputs[0]?.dropped, {});
  // Output down at shutdown: what memory holds is counted as lost for the output, not left unsaid.
  m.behave(() => ({ kind: 'retryable' }));
  for (let n = 2501; n <= 2600; n++) await p.accept(testDoc(n));
  await p.shutdown();
  const s = p.stats();
  assert.equal((s.outputs[0]?.dropped.spool_unwritable ?? 0) + sequences(m.delivered).filter((n) => n > 2500).length, 100);
  assertInvariant(s);
});
