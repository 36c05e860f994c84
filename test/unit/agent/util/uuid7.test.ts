import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoNow } from '../../../../agent/util/iso-now.js';
import { uuidv7 } from '../../../../agent/util/uuid7.js';

const FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);

test('uuidv7: RFC 9562 layout, the creation time in the first 48 bits, sorted and unique', () => {
  // Past several refills of the random pool (512 ids each).
  const t0 = Date.now();
  const ids = Array.from({ length: 5000 }, () => uuidv7());
  for (const id of ids) assert.match(id, FORMAT);
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] ?? '') < (ids[i] ?? ''), `sorted at ${i}`);
  const first = msOf(ids[0] ?? '');
  assert.ok(first >= t0 && first <= Date.now() + 1, `time ${first} vs ${t0}`);
  // Random bits differ, not only the counter.
  assert.ok(new Set(ids.map((id) => id.slice(-12))).size > 4990);
});

test('uuidv7: a given time is encoded exactly; more than 4,096 ids in one millisecond borrow the next', () => {
  const at = Date.UTC(2100, 0, 1, 0, 0, 0, 1);
  const a = uuidv7(at);
  assert.equal(msOf(a), at);
  assert.equal(a.slice(14, 18), '7000', 'the counter starts at 0 in a new millisecond');
  assert.equal(uuidv7(at).slice(14, 18), '7001');
  let last = '';
  // Counters 2 to 4095 (0xfff), then the overflow.
  for (let i = 0; i < 4095; i++) last = uuidv7(at);
  assert.equal(msOf(last), at + 1, 'counter overflow moves to the next millisecond');
  assert.equal(last.slice(14, 18), '7000');
  // A clock that goes back never breaks the order.
  const back = uuidv7(at - 5000);
  assert.ok(back > last);
});

test('isoNow: ISO 8601 of the given time, the same string within a millisecond', () => {
  const at = Date.UTC(2030, 5, 1, 12, 0, 0, 123);
  assert.equal(isoNow(at), '2030-06-01T12:00:00.123Z');
  assert.equal(isoNow(at), isoNow(at));
  assert.equal(isoNow(at + 1), '2030-06-01T12:00:00.124Z');
  const now = isoNow();
  assert.ok(Math.abs(Date.parse(now) - Date.now()) < 1000);
});
