import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crashSetup, drainAndTally, outputDocs, runHarness } from './harness-runner.js';

// The SIGKILL soak: PORTWARDEN_SOAK_KILLS kills (default 100) of a child agent whose output is down,
// at random points (mid-append with half a write on disk, or at a random time from the spawn, so
// also inside start-up recovery of the spool the previous kills left), then one run with the output
// up. "Accepted" = accept() resolved: the child prints `ack N` synchronously once it has.
// Bounded for CI: it stops killing after PORTWARDEN_SOAK_BUDGET_S (150 s) even if fewer kills were
// made (a kill takes 1-2 s on a loaded 2-core machine), and says how many it made.
const KILLS = Number(process.env.PORTWARDEN_SOAK_KILLS ?? 100);
const BUDGET_MS = Number(process.env.PORTWARDEN_SOAK_BUDGET_S ?? 150) * 1000;

test(`SIGKILL soak: up to ${KILLS} kills with the output down, then up: every accepted event delivered, duplicates counted, no phantom loss`, async (t) => {
  const s = await crashSetup(t);
  const { stateDir, outPath, random, track } = s;
  const acked = new Set<number>();
  let next = 1;
  let torn = 0;
  let beforeStarted = 0;
  const t0 = Date.now();
  let round = 0;
  for (; round < KILLS && Date.now() - t0 < BUDGET_MS; round++) {
    const count = 100 + Math.floor(random() * 400);
    const r = random();
    const mid = r < 0.35;
    // Timed kills: half counted from the spawn (node start-up, recovery), half from `started` (accepting).
    const fromSpawn = r >= 0.35 && r < 0.675;
    const run = await runHarness(
      { stateDir, outPath, mode: 'down', first: next, count, ...(mid ? { crashAt: 'append.torn' as const, crashAfter: 1 + Math.floor(random() * 6) } : {}) },
      { killAfterMs: mid ? 30_000 : Math.floor(random() * (fromSpawn ? 1500 : 300)), killFromSpawn: fromSpawn, track },
    );
    assert.equal(run.signal, 'SIGKILL', `round ${round} ended by ${run.signal ?? run.code}: ${run.lines.slice(-3).join(' | ')}`);
    if (run.lines.some((l) => l.startsWith('crash '))) torn++;
    if (!run.lines.includes('started')) beforeStarted++;
    for (const n of run.acked) acked.add(n);
    next += count;
  }
  const tally = await drainAndTally(s, acked, next);
  assert.ok(tally.drainLines.includes('drained'), `drain run: ${tally.drainLines.slice(-3).join(' | ')}`);
  const { missing, duplicates } = tally;
  const lostReported = (await outputDocs(outPath)).filter((d) => d.event.action === 'events_lost').reduce((n, d) => n + (d.portwarden?.pipeline?.lost ?? 0), 0);
  t.diagnostic(`${round} kills (${torn} mid-append, ${beforeStarted} before the spool was open) in ${Math.round((Date.now() - t0) / 1000)} s: `
    + `${acked.size} accepted, ${tally.distinct} distinct delivered, ${missing.length} accepted missing, ${duplicates} duplicates, ${lostReported} reported lost`);
  assert.deepEqual(missing, [], 'every accepted event is delivered');
  assert.ok(round >= Math.min(KILLS, 20), `only ${round} kills in the time budget`);
  assert.ok(torn >= Math.min(5, round / 10), 'killed mid-append');
  // The output was down during every kill: nothing was sent before the last run, so nothing twice.
  assert.equal(duplicates, 0, 'no duplicates');
  // A kill loses no accepted event, and nothing written was lost, so no run may report a loss.
  assert.equal(lostReported, 0, 'no loss reported in-band');
  assert.deepEqual(tally.unexpected, [], 'nothing that was never accepted appears');
});
