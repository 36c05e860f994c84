import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPipeline } from '../../../agent/pipeline/index.js';
import { DeliveryPipeline } from '../../../agent/pipeline/index.js';
import { Action } from '../../../agent/ecs/fields.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { assertInvariant, defer, pipelineOptions, sequences, tempState, testDoc } from '../../unit/agent/pipeline/support.js';
import { listSegments } from './spool-files.js';
import { waitFor } from '../../helpers/wait.js';
import { fill as fillDisk, mountTmpfs, unmount } from '../../helpers/disk.js';
import { scanSpool } from '../../../agent/pipeline/spool/recovery.js';

const spool = { segment_bytes: 64 * 1024, max_bytes: 64 * 1024 * 1024 };
const N = 2000;

/** Fills a spool with N events while the output is down, then stops cleanly. */
async function fill(dir: string): Promise<void> {
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = createPipeline(pipelineOptions(dir, [{ name: 'out', transport: down }], { spool }));
  await p.start();
  await Promise.all(Array.from({ length: N }, (_, i) => p.accept(testDoc(i + 1, 'event', 100))));
  await p.shutdown();
}

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] = (b[0] ?? 0) ^ 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

async function restart(t: Parameters<typeof tempState>[0], dir: string) {
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: m }], { spool }));
  defer(t, () => p.shutdown());
  await p.start();
  await waitFor('backlog delivered', () => p.stats().outputs[0]?.queuedEvents === 0 && m.delivered.length > 0, 30_000);
  return { m, p };
}

test('flipped bytes, a torn tail and a missing segment: everything else is delivered, exactly the loss is reported', async (t) => {
  const dir = await tempState(t);
  await fill(dir);
  const segs = await listSegments(dir);
  assert.ok(segs.length >= 5, `expected several segments, got ${segs.length}`);
  const lost = new Set<number>();
  // 1. one flipped byte inside a frame of segment 1: that frame only.
  const s1 = segs[1]!;
  const victim = s1.frames[10]!;
  await flipByte(s1.path, victim.offset + victim.bytes - 3);
  lost.add(victim.seq);
  // 2. segment 3 is gone.
  await rm(segs[3]!.path);
  for (const f of segs[3]!.frames) lost.add(f.seq);
  // 3. the last segment is torn in the middle of a frame: that frame and the ones after it.
  const last = segs.at(-1)!;
  const cut = last.frames[Math.floor(last.frames.length / 2)]!;
  await truncate(last.path, cut.offset + 7);
  for (const f of last.frames) if (f.seq >= cut.seq) lost.add(f.seq);

  const { m, p } = await restart(t, dir);
  const got = new Set(sequences(m.delivered));
  for (let n = 1; n <= N; n++) assert.equal(got.has(n), !lost.has(n), `event ${n}: delivered=${got.has(n)} lost=${lost.has(n)}`);
  assert.equal(p.stats().lost, lost.size);
  assert.equal(p.stats().outputs[0]?.dropped.lost, lost.size);
  assert.deepEqual(p.recovery?.lostByOutput, { out: lost.size });
  assertInvariant(p.stats());
  const report = m.delivered.find((e) => e.doc.event.action === Action.eventsLost);
  assert.ok(report, 'an events_lost agent event is delivered');
  assert.equal((report.doc.portwarden as { pipeline: { lost: number } }).pipeline.lost, lost.size);
});

test('an unreadable cursor restarts from the oldest queued event: duplicates, never loss', async (t) => {
  const dir = await tempState(t);
  await fill(dir);
  const first = await restart(t, dir);
  await first.p.shutdown();
  assert.equal(sequences(first.m.delivered).length, N);
  const cursor = join(dir, 'spool', 'cursors', 'out.cursor');
  await writeFile(cursor, (await readFile(cursor, 'utf8')).replace('{"v":1', '{"v":7'));
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: m }], { spool }));
  defer(t, () => p.shutdown());
  await p.start();
  assert.deepEqual(p.recovery?.cursorsReset, ['out']);
  assert.equal(p.stats().lost, 0);
  await waitFor('resend', () => p.stats().outputs[0]?.queuedEvents === 0 && m.delivered.length > 0).catch((err: unknown) => { throw new Error(`${String(err)} ${JSON.stringify(p.stats())} ${JSON.stringify(p.recovery)}`); });
  const again = sequences(m.delivered);
  assert.ok(again.length > 0 && again.includes(N), 'the retained tail is sent again');
  assert.ok(m.delivered.some((e) => e.doc.event.action === Action.eventsLost), 'the reset is reported in-band');
});

test('a spool that cannot be read at all is moved aside; the agent starts and keeps working', async (t) => {
  const dir = await tempState(t);
  await writeFile(join(dir, 'spool'), 'not a directory');
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: m }]));
  defer(t, () => p.shutdown());
  await p.start();
  assert.match(p.recovery?.spoolMovedTo ?? '', /spool\.damaged-/);
  await p.accept(testDoc(1));
  await waitFor('delivery', () => sequences(m.delivered).includes(1));
});

test('an unreadable segment (EISDIR) costs exactly its own frames; every readable segment is kept', async (t) => {
  const dir = await tempState(t);
  await fill(dir);
  const segs = await listSegments(dir);
  assert.ok(segs.length >= 5, `expected several segments, got ${segs.length}`);
  const victim = segs[2]!;
  const lost = new Set(victim.frames.map((f) => f.seq));
  // Reading it fails the way a bad disk does: a read error, not missing data.
  await rm(victim.path);
  await mkdir(victim.path);
  const { m, p } = await restart(t, dir);
  const got = new Set(sequences(m.delivered));
  for (let n = 1; n <= N; n++) assert.equal(got.has(n), !lost.has(n), `event ${n}: delivered=${got.has(n)} lost=${lost.has(n)}`);
  assert.ok(lost.size > 10);
  assert.equal(p.stats().lost, lost.size);
  assert.deepEqual(p.recovery?.lostByOutput, { out: lost.size });
  assert.ok(!(await readdir(dir)).some((n) => n.startsWith('spool.damaged')), 'the spool was not moved aside');
  assertInvariant(p.stats());
  const report = m.delivered.find((e) => e.doc.event.action === Action.eventsLost);
  assert.ok(report, 'an events_lost agent event is delivered');
  assert.equal((report.doc.portwarden as { pipeline: { lost: number } }).pipeline.lost, lost.size);
});

test('a corrupt segment that cannot be repaired on a full disk leaves no temp file and stays as it was; it is repaired at the next start with room', async (t) => {
  const dir = join(await tempState(t), 'state');
  mountTmpfs(dir, '4m');
  defer(t, () => { unmount(dir); return Promise.resolve(); });
  await fill(dir);
  const segs = await listSegments(dir);
  const s1 = segs[1]!;
  const victim = s1.frames[10]!;
  await flipByte(s1.path, victim.offset + victim.bytes - 3);
  const before = await readFile(s1.path);
  const filler = join(dir, 'filler');
  assert.ok(fillDisk(filler, true) > 0);
  const scan = await scanSpool(join(dir, 'spool'), N + 1, () => undefined);
  assert.deepEqual(scan.unrepaired.map((u) => u.name), [s1.name]);
  // Not a byte free: the rewrite is not even tried (see repair-space.test.ts), and says what it waits for.
  assert.match(scan.unrepaired[0]?.error ?? '', /^the rewrite waits for \d+ bytes free, 0 free now$/);
  const spoolDir = join(dir, 'spool');
  assert.deepEqual((await readdir(spoolDir)).filter((n) => n.endsWith('.tmp')), [], 'no temp file holds the little space left');
  assert.deepEqual(await readFile(s1.path), before, 'the segment is kept as it was');
  await rm(filler);
  await rm(`${filler}.tail`, { force: true });
  const { m, p } = await restart(t, dir);
  const got = new Set(sequences(m.delivered));
  for (let n = 1; n <= N; n++) assert.equal(got.has(n), n !== victim.seq, `event ${n}`);
  assert.deepEqual(p.recovery?.lostByOutput, { out: 1 });
});
