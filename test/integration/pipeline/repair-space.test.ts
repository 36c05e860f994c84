import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeliveryPipeline } from '../../../agent/pipeline/index.js';
import { healthOf } from '../../../agent/app/status.js';
import { MemoryTransport } from '../../../transports/memory/index.js';
import { defer, pipelineOptions } from '../../unit/agent/pipeline/support.js';
import { listSegments } from './spool-files.js';
import { recordingLogger, spool, spooledOnTmpfs } from './tmpfs-spool.js';
import { fill as fillDisk } from '../../helpers/disk.js';
import { waitFor } from '../../helpers/wait.js';

// A damaged segment whose rewrite needs more room than the disk has: the agent does not even try
// (each try would fill the filesystem to the last byte for an instant, and other services on it
// would get ENOSPC), says what it waits for, and rewrites the segment once the room is there.
test('a rewrite that needs more free space than the disk has is not tried, the wait is reported with its figures, and it is done once space returns', async (t) => {
  const dir = await spooledOnTmpfs(t);

  // A flipped byte inside a segment past the first batch (no output reads inside it, so only the
  // free space decides whether its rewrite is tried).
  const segs = await listSegments(dir);
  const s1 = segs[4]!;
  const victim = s1.frames[10]!;
  const fh = await open(s1.path, 'r+');
  await fh.write(Buffer.from([0xff ^ (await readFile(s1.path))[victim.offset + victim.bytes - 3]!]), 0, 1, victim.offset + victim.bytes - 3);
  await fh.close();
  const before = await readFile(s1.path);
  const rewrite = before.length - victim.bytes;
  // Full, then half of what the rewrite writes given back: more than nothing, less than it needs.
  const filler = join(dir, 'filler');
  assert.ok(fillDisk(filler, true) > 0);
  await rm(`${filler}.tail`, { force: true });
  await truncate(filler, (await stat(filler)).size - Math.floor(rewrite / 2));

  // Every file created in the spool directory, in order (inotify); a rewrite's copy is `<segment>.<hex>.tmp`.
  const seen: string[] = [];
  const watcher = watch(join(dir, 'spool'), (_event, name) => { if (name !== null) seen.push(name); });
  defer(t, () => { watcher.close(); return Promise.resolve(); });
  /** The segment's temporary copies the kernel reported up to now (a file created now is reported after all earlier ones). */
  const copies = async (mark: string): Promise<string[]> => {
    await writeFile(join(dir, 'spool', mark), '');
    await waitFor(`the watcher sees ${mark}`, () => (seen.includes(mark) ? true : undefined), 10_000);
    await rm(join(dir, 'spool', mark));
    return [...new Set(seen.filter((n) => n.startsWith(`${s1.name}.`) && n.endsWith('.tmp')))];
  };

  // A clock 100 times as fast: each group commit (100 ms) is past the 5 s between repair tries.
  const t0 = Date.now();
  const lines: string[] = [];
  // The output stays down: only the repair is at stake.
  const down = new MemoryTransport().behave(() => ({ kind: 'retryable' }));
  const p = new DeliveryPipeline(pipelineOptions(dir, [{ name: 'out', transport: down }], { spool, logger: recordingLogger(lines), now: () => t0 + (Date.now() - t0) * 100 }));
  defer(t, () => p.shutdown());
  await p.start();
  assert.deepEqual(p.recovery?.unrepairedSegments, [s1.name]);
  // Three repair retries (each one either tried or put off; the clock makes every tick one).
  const retries = (): number => (p.stats().spool?.repairs?.putOff ?? 0) + (p.stats().spool?.repairs?.attempted ?? 0);
  await waitFor('three repair retries', () => (retries() >= 3 ? true : undefined), 30_000);

  const st = p.stats().spool;
  assert.equal(st?.unrepaired, 1, 'still unrepaired');
  assert.equal(st.repairs?.attempted, 0, 'no rewrite tried');
  const wait = st.repairWait;
  assert.ok(wait !== undefined && wait.needBytes > rewrite && wait.freeBytes > 0 && wait.freeBytes < rewrite, JSON.stringify({ wait, rewrite }));
  t.diagnostic(`rewrite writes ${rewrite} bytes; waits for ${wait.needBytes} free, ${wait.freeBytes} free; ${st.repairs.putOff} retries put off`);
  assert.deepEqual(await readFile(s1.path), before, 'the segment kept as it was');
  assert.deepEqual(await copies('mark-1'), [], 'no temporary copy of the segment was ever written');
  const problems = healthOf({
    startedMs: 0, stats: p.stats(), detection: { enabled: false, rules: 0, disabledRules: 0, allowlistEntries: 0, sensitivePorts: 0 },
    realtime: null, overlays: {}, lastReload: undefined,
  }).problems.filter((x) => x.startsWith('spool:'));
  const latest = p.stats().spool?.repairWait;
  assert.deepEqual(problems, [`spool: 1 damaged segment(s) not repaired yet (disk full?); the damage is skipped, the repair retried; the rewrite waits for ${latest?.needBytes} bytes free, ${latest?.freeBytes} free now`]);
  const told = lines.filter((l) => l.includes('waits for'));
  assert.equal(told.length, 1, `said once, not at every try:\n${told.join('\n')}`);
  assert.ok(told[0]?.startsWith('warn damaged spool segment cannot be repaired yet') && told[0].includes(s1.name) && told[0].includes(`waits for ${wait.needBytes} bytes free`), told[0]);

  await rm(filler);
  await waitFor('the segment repaired on disk', async () => ((await stat(s1.path)).size === rewrite ? true : undefined), 30_000);
  assert.equal(p.stats().spool?.unrepaired, 0);
  assert.equal(p.stats().spool?.repairWait, undefined);
  assert.ok((p.stats().spool?.repairs?.attempted ?? 0) >= 1);
  assert.equal((await copies('mark-2')).length, 1, 'the rewrite, once tried, is seen by the same watch');
});
