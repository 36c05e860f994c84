import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FaultPoint } from '../../../agent/pipeline/fault.js';
import { defer, tempState } from '../../unit/agent/pipeline/support.js';
import { delivered, rng, runHarness } from './harness-runner.js';


test('SIGKILL at random points (mid-append, mid-cursor-write, mid-unlink) loses no acknowledged event', async (t) => {
  const dir = await tempState(t);
  const stateDir = join(dir, 'state');
  const outPath = join(dir, 'out', 'events.ndjson');
  const seed = Number(process.env.PORTWARDEN_CRASH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PORTWARDEN_CRASH_SEED to replay)`);
  const random = rng(seed);
  const kills: (() => void)[] = [];
  defer(t, () => { for (const k of kills) k(); return Promise.resolve(); });
  const acked = new Set<number>();
  const points: (FaultPoint | 'timer')[] = ['append.torn', 'cursor.tmp', 'segment.unlink', 'timer'];
  const hitPoints = new Map<string, number>();
  let next = 1;
  const ROUNDS = 20;
  for (let round = 0; round < ROUNDS; round++) {
    const point = points[round % points.length] ?? 'timer';
    // Cursor writes and segment deletions only happen while the output is up.
    const mode = point === 'cursor.tmp' || point === 'segment.unlink' || random() < 0.4 ? 'up' : 'down';
    const count = 200 + Math.floor(random() * 300);
    const run = await runHarness(
      { stateDir, outPath, mode, first: next, count, ...(point === 'timer' ? {} : { crashAt: point, crashAfter: 1 + Math.floor(random() * 4) }) },
      { killAfterMs: point === 'timer' ? 10 + Math.floor(random() * 250) : 1500, track: (k) => kills.push(k) },
    );
    assert.equal(run.signal, 'SIGKILL', `round ${round} ended by ${run.signal ?? run.code}: ${run.lines.slice(-3).join(' | ')}`);
    const crash = run.lines.find((l) => l.startsWith('crash '));
    if (crash !== undefined) hitPoints.set(crash, (hitPoints.get(crash) ?? 0) + 1);
    for (const n of run.acked) acked.add(n);
    next += count;
  }
  t.diagnostic(`kills at fault points: ${JSON.stringify(Object.fromEntries(hitPoints))}`);
  assert.ok((hitPoints.get('crash append.torn') ?? 0) >= 3, 'killed mid-append');
  assert.ok((hitPoints.get('crash cursor.tmp') ?? 0) >= 3, 'killed mid-cursor-write');
  const final = await runHarness({ stateDir, outPath, mode: 'drain', first: next, count: 10 }, { track: (k) => kills.push(k) });
  assert.ok(final.lines.includes('drained'), `drain run: ${final.lines.slice(-3).join(' | ')}`);
  for (const n of final.acked) acked.add(n);
  const got = await delivered(outPath);
  const seen = new Map<number, number>();
  for (const n of got) seen.set(n, (seen.get(n) ?? 0) + 1);
  const missing = [...acked].filter((n) => !seen.has(n));
  assert.deepEqual(missing, [], 'every acknowledged event is delivered');
  const duplicates = got.length - seen.size;
  t.diagnostic(`${acked.size} acknowledged, ${seen.size} distinct delivered, ${duplicates} duplicates over ${ROUNDS} kills`);
  // Duplicates come only from the unacknowledged window: the batch in flight (50) plus cursor lag.
  assert.ok(duplicates <= ROUNDS * 4 * 50, `too many duplicates: ${duplicates}`);
  const unexpected = [...seen.keys()].filter((n) => n >= next + 10);
  assert.deepEqual(unexpected, [], 'nothing that was never accepted appears');
});

test('SIGTERM with events in memory: they are written before exit and delivered after restart', async (t) => {
  const dir = await tempState(t);
  const stateDir = join(dir, 'state');
  const outPath = join(dir, 'out', 'events.ndjson');
  const kills: (() => void)[] = [];
  defer(t, () => { for (const k of kills) k(); return Promise.resolve(); });
  const run = await runHarness({ stateDir, outPath, mode: 'down', first: 1, count: 5000 }, { termAfterAcks: 500, track: (k) => kills.push(k) });
  assert.equal(run.code, 0, `clean exit: ${run.lines.slice(-3).join(' | ')}`);
  assert.ok(run.lines.includes('stopped'));
  assert.ok(run.acked.length >= 500);
  const final = await runHarness({ stateDir, outPath, mode: 'drain', first: 100_000, count: 1 }, { track: (k) => kills.push(k) });
  assert.ok(final.lines.includes('drained'));
  const got = await delivered(outPath);
  const missing = run.acked.filter((n) => !got.includes(n));
  assert.deepEqual(missing, [], 'every event acknowledged before or during shutdown is delivered');
  assert.equal(got.length, new Set(got).size, 'no duplicates: nothing was sent before the restart');
});
