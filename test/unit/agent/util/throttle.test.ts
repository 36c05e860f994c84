import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Throttle, WARN_INTERVAL_MS } from '../../../../agent/util/throttle.js';

test('Throttle: the first failure is logged at once, then one line per 30 s however many repeat', () => {
  let now = 1_000_000;
  const t = new Throttle(() => now);
  const lines: number[] = [];
  // A failure every 100 ms for 95 s: lines at 0 s, 30 s, 60 s and 90 s only.
  for (let i = 0; i < 950; i++, now += 100) if (t.ready()) lines.push(now - 1_000_000);
  assert.deepEqual(lines, [0, WARN_INTERVAL_MS, 2 * WARN_INTERVAL_MS, 3 * WARN_INTERVAL_MS]);
});

test('Throttle: a failure after a quiet spell longer than the interval is logged at once', () => {
  let now = 0;
  const t = new Throttle(() => now, 5000);
  assert.equal(t.ready(), true);
  now = 4999;
  assert.equal(t.ready(), false);
  now = 60_000;
  assert.equal(t.ready(), true);
  assert.equal(t.ready(), false);
});

test('Throttle.release: says how many calls were held back and how long ago the previous line went out', () => {
  let now = 10_000;
  const t = new Throttle(() => now, 5000);
  assert.deepEqual(t.release(), { suppressed: 0, sinceMs: undefined });
  now += 1000;
  assert.equal(t.release(), undefined);
  now += 1000;
  assert.equal(t.release(), undefined);
  now += 4000;
  assert.deepEqual(t.release(), { suppressed: 2, sinceMs: 6000 });
  // A forced line (at shutdown) goes out inside the interval and starts the next one.
  now += 1500;
  assert.deepEqual(t.release(true), { suppressed: 0, sinceMs: 1500 });
  now += 4999;
  assert.equal(t.ready(), false);
  now += 1;
  assert.deepEqual(t.release(), { suppressed: 1, sinceMs: 5000 });
});
