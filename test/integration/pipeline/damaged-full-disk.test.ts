import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DeliveryPipeline } from '../../../agent/pipeline/index.js';
import { Action } from '../../../agent/ecs/fields.js';
import { healthOf } from '../../../agent/app/status.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { assertInvariant, defer, pipelineOptions, sequences } from '../../unit/agent/pipeline/support.js';
import { listSegments } from './spool-files.js';
import { N, recordingLogger, spool, spooledOnTmpfs } from './tmpfs-spool.js';
import { fill as fillDisk, segmentBytes } from '../../helpers/disk.js';
import { waitFor } from '../../helpers/wait.js';

// A damaged spool segment found at start-up on a real full filesystem (a tmpfs filled to the last
// byte): the start goes on, the good events are delivered, nothing else is lost.
/** The problems `portwarden status` and the heartbeat would show for the pipeline `p` (the real healthOf). */
function problems(p: DeliveryPipeline): string[] {
  return healthOf({
    startedMs: 0, stats: p.stats(), detection: { enabled: false, rules: 0, disabledRules: 0, allowlistEntries: 0, sensitivePorts: 0 },
    realtime: null, overlays: {}, lastReload: undefined,
  }).problems.filter((x) => x.startsWith('spool:'));
}

async function freeSpace(filler: string): Promise<void> {
  await rm(filler);
  await rm(`${filler}.tail`, { force: true });
}

test('a torn tail on a full disk: the agent starts, every accepted event is delivered, the tail is cut in place', async (t) => {
  const dir = await spooledOnTmpfs(t);
  const last = (await listSegments(dir)).at(-1)!;
  const frame = last.frames.at(-1)!;
  // A torn write: the first half of a frame after the last whole one.
  const buf = await readFile(last.path);
  await appendFile(last.path, buf.subarray(frame.offset, frame.offset + Math.floor(frame.bytes / 2)));
  const filler = join(dir, 'filler');
  assert.ok(fillDisk(filler, true) > 0);
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: m }], { spool }));
  defer(t, () => p.shutdown());
  await p.start();
  await waitFor('the backlog delivered', () => (sequences(m.delivered).length >= N ? true : undefined), 30_000);
  assert.deepEqual([...new Set(sequences(m.delivered))].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), 'every accepted event, none lost');
  assert.deepEqual(p.recovery?.repairedSegments, [last.name]);
  assert.ok(!(await readdir(dir)).some((n) => n.startsWith('spool.damaged')), 'the spool was not moved aside');
  assert.equal(p.stats().lost, 0);
  await freeSpace(filler);
});

test('a bad run inside a segment on a full disk: skipped in memory, reported in-band, repaired once space returns, the rest delivered', async (t) => {
  const dir = await spooledOnTmpfs(t);
  // Past the first batch (500 events): the output holds no position inside it while it is down.
  const segs = await listSegments(dir);
  assert.ok(segs.length >= 6, `${segs.length} segments`);
  const s1 = segs[4]!;
  const victim = s1.frames[10]!;
  const fh = await open(s1.path, 'r+');
  await fh.write(Buffer.from([0xff ^ (await readFile(s1.path))[victim.offset + victim.bytes - 3]!]), 0, 1, victim.offset + victim.bytes - 3);
  await fh.close();
  const before = await readFile(s1.path);
  const filler = join(dir, 'filler');
  assert.ok(fillDisk(filler, true) > 0);
  // The output is down at first: nothing is read from the damaged segment while its repair waits.
  let up = false;
  const m = new MemoryTransport().behave(() => (up ? { kind: 'ok' } : { kind: 'retryable' }));
  const lines: string[] = [];
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: m }], { spool, logger: recordingLogger(lines) }));
  defer(t, () => p.shutdown());
  await p.start();
  assert.deepEqual(p.recovery?.unrepairedSegments, [s1.name]);
  assert.deepEqual(p.recovery.repairedSegments, []);
  assert.equal(p.stats().spool?.unrepaired, 1);
  // The disk has not a byte free: the rewrite is not even tried, and the status says what it waits for.
  const wait = p.stats().spool?.repairWait;
  assert.ok(wait !== undefined && wait.needBytes > s1.size - victim.bytes && wait.freeBytes === 0, JSON.stringify(wait));
  assert.deepEqual(problems(p), [`spool: 1 damaged segment(s) not repaired yet (disk full?); the damage is skipped, the repair retried; the rewrite waits for ${wait.needBytes} bytes free, 0 free now`]);
  assert.ok(lines.some((l) => l.startsWith('warn damaged spool segment cannot be repaired yet') && l.includes(s1.name)), lines.join('\n'));
  assert.deepEqual(await readFile(s1.path), before, 'kept as it was while the disk is full');
  assert.deepEqual((await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.tmp')), [], 'no temp file holds the little space left');

  await freeSpace(filler);
  await waitFor('the segment repaired on disk', async () => ((await stat(s1.path)).size === before.length - victim.bytes ? true : undefined), 30_000);
  assert.equal(p.stats().spool?.unrepaired, 0);
  assert.deepEqual(problems(p), [], 'status healthy again once repaired');
  // The spool's own account of its size (the cap) follows the rewrite.
  await waitFor('spool bytes = the segment files', () => (p.stats().spool?.bytes === segmentBytes(join(dir, 'spool')) ? true : undefined), 10_000);
  up = true;
  await waitFor('the backlog delivered', () => (p.stats().outputs[0]?.queuedEvents === 0 ? true : undefined), 30_000);
  const got = new Set(sequences(m.delivered));
  for (let n = 1; n <= N; n++) assert.equal(got.has(n), n !== victim.seq, `event ${n}`);
  assert.deepEqual(p.recovery.lostByOutput, { out: 1 });
  assertInvariant(p.stats());
  const report = m.delivered.find((e) => e.doc.event.action === Action.eventsLost);
  assert.deepEqual((report?.doc.portwarden as { pipeline: { unrepaired_segments: string[] } } | undefined)?.pipeline.unrepaired_segments, [s1.name], 'reported in-band');
});

test('a bad run inside a segment on a full disk, output up: the good events around it are delivered from the unrepaired file', async (t) => {
  const dir = await spooledOnTmpfs(t);
  const s1 = (await listSegments(dir))[1]!;
  const victim = s1.frames[10]!;
  const fh = await open(s1.path, 'r+');
  await fh.write(Buffer.alloc(8, 0xee), 0, 8, victim.offset + 30);
  await fh.close();
  const filler = join(dir, 'filler');
  assert.ok(fillDisk(filler, true) > 0);
  const m = new MemoryTransport();
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: m }], { spool }));
  defer(t, () => p.shutdown());
  await p.start();
  assert.deepEqual(p.recovery?.unrepairedSegments, [s1.name]);
  await waitFor('the backlog delivered', () => (p.stats().outputs[0]?.queuedEvents === 0 ? true : undefined), 30_000);
  const got = new Set(sequences(m.delivered));
  for (let n = 1; n <= N; n++) assert.equal(got.has(n), n !== victim.seq, `event ${n}`);
  assert.equal(p.stats().lost, 1);
  assertInvariant(p.stats());
  await freeSpace(filler);
});
