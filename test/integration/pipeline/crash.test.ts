import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultPoint } from '../../../agent/pipeline/fault.js';
import { crashSetup, delivered, drainAndTally, runHarness } from './harness-runner.js';


/**
 * How many times a round reaches each kill point for sure, whatever the timing, so the kill lands:
 * a chunk write per 16 accepts at most (the harness keeps 16 in flight), two cursor writes once
 * more than one batch (50) is delivered (the first ack writes at once, a later one again), and one
 * segment deletion once a segment (at least 64 KiB, about 250 events) is closed and delivered:
 * mid-unlink rounds accept at least 300 events with the output up.
 */
const SURE: Record<FaultPoint, number> = { 'append.torn': 4, 'cursor.tmp': 2, 'segment.unlink': 1 };

/**
 * What a run's deliveries may repeat: a restart sends again from the persisted cursor, so the
 * events a run delivers a second time all come before the first one it delivers for the first
 * time, and no event goes out twice within one run (the output never fails here). A repeat
 * after new events would be a re-send from somewhere else. Returns the first violation.
 */
function repeatsAfterNew(before: readonly number[], run: readonly number[]): string | undefined {
  const seen = new Set(before);
  const inRun = new Set<number>();
  let fresh = false;
  for (const n of run) {
    if (inRun.has(n)) return `event ${n} delivered twice in one run`;
    inRun.add(n);
    if (!seen.has(n)) fresh = true;
    else if (fresh) return `event ${n} delivered again after new events`;
  }
  return undefined;
}

test('SIGKILL at random points (mid-append, mid-cursor-write, mid-unlink) loses no acknowledged event', async (t) => {
  const s = await crashSetup(t);
  const { stateDir, outPath, random, track } = s;
  const acked = new Set<number>();
  // The last round kills mid-unlink, so the final drain starts from a half-done deletion.
  const points: (FaultPoint | 'timer')[] = ['append.torn', 'cursor.tmp', 'timer', 'segment.unlink'];
  const hitPoints = new Map<string, number>();
  let next = 1;
  let out: number[] = [];
  const ROUNDS = 20;
  for (let round = 0; round < ROUNDS; round++) {
    const point = points[round % points.length] ?? 'timer';
    // Cursor writes and segment deletions only happen while the output is up.
    const mode = point === 'cursor.tmp' || point === 'segment.unlink' || random() < 0.4 ? 'up' : 'down';
    const count = (point === 'segment.unlink' ? 300 : 200) + Math.floor(random() * 200);
    // A kill point is waited for (it is sure to come); only a timer round is killed from outside.
    const run = await runHarness(
      { stateDir, outPath, mode, first: next, count, ...(point === 'timer' ? {} : { crashAt: point, crashAfter: 1 + Math.floor(random() * SURE[point]) }) },
      point === 'timer' ? { killAfterMs: 10 + Math.floor(random() * 250), track } : { timeoutMs: 60_000, track },
    );
    assert.equal(run.signal, 'SIGKILL', `round ${round} ended by ${run.signal ?? run.code}: ${run.lines.slice(-3).join(' | ')}`);
    const crash = run.lines.find((l) => l.startsWith('crash '));
    if (point !== 'timer') assert.equal(crash, `crash ${point}`, `round ${round} (${mode}, ${count} events) was not killed at ${point}: ${run.lines.slice(-3).join(' | ')}`);
    if (crash !== undefined) hitPoints.set(crash, (hitPoints.get(crash) ?? 0) + 1);
    for (const n of run.acked) acked.add(n);
    next += count;
    const got = await delivered(outPath);
    assert.equal(repeatsAfterNew(out, got.slice(out.length)), undefined, `round ${round} (after a kill at ${points[(round + points.length - 1) % points.length] ?? ''})`);
    out = got;
  }
  t.diagnostic(`kills at fault points: ${JSON.stringify(Object.fromEntries(hitPoints))}`);
  for (const p of ['append.torn', 'cursor.tmp', 'segment.unlink']) assert.equal(hitPoints.get(`crash ${p}`), ROUNDS / points.length, `killed at ${p} in each of its rounds`);
  const r = await drainAndTally(s, acked, next);
  assert.ok(r.drainLines.includes('drained'), `drain run: ${r.drainLines.slice(-3).join(' | ')}`);
  assert.equal(repeatsAfterNew(out, (await delivered(outPath)).slice(out.length)), undefined, 'the drain after a kill mid-unlink');
  assert.deepEqual(r.missing, [], 'every acknowledged event is delivered');
  t.diagnostic(`${acked.size} acknowledged, ${r.distinct} distinct delivered, ${r.duplicates} duplicates over ${ROUNDS} kills`);
  // Each kill re-sends its run's unacknowledged window (since the last persisted cursor): how much
  // depends on timing (a kill at a run's first cursor write re-sends all it delivered), so the
  // order check above is the exact one. A cursor that never moved would re-send everything
  // delivered so far at every restart, many times this bound.
  assert.ok(r.duplicates <= 3 * acked.size, `too many duplicates: ${r.duplicates} for ${acked.size} events`);
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
