import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultPoint } from '../../../agent/pipeline/fault.js';
import { crashSetup, drainAndTally, runHarness } from './harness-runner.js';


test('SIGKILL at random points (mid-append, mid-cursor-write, mid-unlink) loses no acknowledged event', async (t) => {
  const s = await crashSetup(t);
  const { stateDir, outPath, random, track } = s;
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
      { killAfterMs: point === 'timer' ? 10 + Math.floor(random() * 250) : 1500, track },
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
  const r = await drainAndTally(s, acked, next);
  assert.ok(r.drainLines.includes('drained'), `drain run: ${r.drainLines.slice(-3).join(' | ')}`);
  assert.deepEqual(r.missing, [], 'every acknowledged event is delivered');
  t.diagnostic(`${acked.size} acknowledged, ${r.distinct} distinct delivered, ${r.duplicates} duplicates over ${ROUNDS} kills`);
  // Duplicates come only from the unacknowledged window: the batch in flight (50) plus cursor lag.
  assert.ok(r.duplicates <= ROUNDS * 4 * 50, `too many duplicates: ${r.duplicates}`);
  assert.deepEqual(r.unexpected, [], 'nothing that was never accepted appears');
});

test('SIGTERM with events in memory: they are written before exit and delivered after restart', async (t) => {
  const s = await crashSetup(t);
  const run = await runHarness({ stateDir: s.stateDir, outPath: s.outPath, mode: 'down', first: 1, count: 5000 }, { termAfterAcks: 500, track: s.track });
  assert.equal(run.code, 0, `clean exit: ${run.lines.slice(-3).join(' | ')}`);
  assert.ok(run.lines.includes('stopped'));
  assert.ok(run.acked.length >= 500);
  const r = await drainAndTally(s, new Set(run.acked), 100_000, 1);
  assert.ok(r.drainLines.includes('drained'));
  assert.deepEqual(r.missing, [], 'every event acknowledged before or during shutdown is delivered');
  assert.equal(r.duplicates, 0, 'no duplicates: nothing was sent before the restart');
});
