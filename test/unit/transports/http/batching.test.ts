import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BatchOutcome, prefixWithin } from '../../../../transports/http/batching.js';

test('prefixWithin: longest prefix within the cap, never empty', () => {
  assert.equal(prefixWithin([10, 10, 10], 30), 3);
  assert.equal(prefixWithin([10, 10, 10], 25), 2);
  assert.equal(prefixWithin([50, 10], 25), 1);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1 }), fc.integer({ min: 1, max: 500 }), (sizes, cap) => {
    const k = prefixWithin(sizes, cap);
    const sum = sizes.slice(0, k).reduce((a, b) => a + b, 0);
    return k >= 1 && k <= sizes.length && (k === 1 || sum <= cap) && (k === sizes.length || sum + (sizes[k] ?? 0) > cap);
  }));
});

test('BatchOutcome: chunk results merge into one result for the batch', () => {
  const all = new BatchOutcome(6);
  assert.equal(all.add({ kind: 'ok' }, 0, 3), true);
  assert.equal(all.add({ kind: 'ok' }, 3, 3), true);
  assert.deepEqual(all.result(), { kind: 'ok' });

  const mixed = new BatchOutcome(6);
  mixed.add({ kind: 'partial', retry: [1], rejected: [{ index: 0, reason: 'bad' }] }, 2, 2);
  mixed.add({ kind: 'permanent', reason: 'big' }, 4, 1);
  assert.deepEqual(mixed.result(), { kind: 'partial', retry: [3], rejected: [{ index: 2, reason: 'bad' }, { index: 4, reason: 'big' }] });
});

test('BatchOutcome: a stop after delivered chunks retries exactly the unsent rest; a stop first is returned as is', () => {
  const later = new BatchOutcome(5);
  later.add({ kind: 'ok' }, 0, 2);
  assert.equal(later.add({ kind: 'retryable', reason: 'x', retryAfterMs: 5 }, 2, 2), false);
  assert.deepEqual(later.result({ at: 2, result: { kind: 'retryable', reason: 'x' } }), { kind: 'partial', retry: [2, 3, 4], rejected: [] });

  const first = new BatchOutcome(5);
  assert.deepEqual(first.result({ at: 0, result: { kind: 'paused', reason: '401' } }), { kind: 'paused', reason: '401' });

  const rejectedOnly = new BatchOutcome(2);
  rejectedOnly.add({ kind: 'permanent', reason: 'big' }, 0, 1);
  rejectedOnly.add({ kind: 'permanent', reason: 'big' }, 1, 1);
  assert.deepEqual(rejectedOnly.result(), { kind: 'permanent', reason: 'big' });
});
